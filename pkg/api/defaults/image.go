package defaults

import (
	"regexp"
	"strings"
)

// The grammar of a container image reference (the OCI distribution
// "reference" grammar): [host[:port]/]path[:tag][@digest].
var (
	refComponent = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	refHostPart  = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	refHost      = `(?:` + refHostPart + `(?:\.` + refHostPart + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	refName      = `(?:` + refHost + `/)?` + refComponent + `(?:/` + refComponent + `)*`
	refTag       = `[\w][\w.-]{0,127}`
	refDigest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	referenceRE  = regexp.MustCompile(`^(` + refName + `)(?::(` + refTag + `))?(?:@(` + refDigest + `))?$`)
	hexIDRE      = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

const maxImageNameLength = 255

// parseImage splits an image reference into its tag and digest; ok is false when
// the reference is not one a container runtime would accept.
func parseImage(image string) (tag, digest string, ok bool) {
	m := referenceRE.FindStringSubmatch(image)
	if m == nil || len(m[1]) > maxImageNameLength || hexIDRE.MatchString(m[1]) {
		return "", "", false
	}
	// Without a dot, a colon or "localhost", the first path component is not a
	// registry host but part of the (lower-case only) repository path.
	if first, _, found := strings.Cut(m[1], "/"); found &&
		!strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) != first {
		return "", "", false
	}
	return m[2], m[3], true
}
