package certificates

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// MaxTrustBundleSize is the most spec.trustBundle may hold: 1 MiB.
const MaxTrustBundleSize = 1 << 20

var trustBundlePath = field.NewPath("spec", "trustBundle")

// omitted stands for a PEM bundle in an error: upstream does not echo it.
const omitted = "<value omitted>"

// ClusterTrustBundleNamePrefix is the prefix the name of a bundle of signer
// must have: the signer name with "/" made ":", then ":"
// ("example.com/foo" names its bundles "example.com:foo:...").
func ClusterTrustBundleNamePrefix(signer string) string {
	return strings.ReplaceAll(signer, "/", ":") + ":"
}

// ValidateClusterTrustBundleName is the name rule of bundles of signer: a
// bundle of no signer may not have ":" in its name, which would pass it off
// as a signer's; a signer's bundle is named with its prefix, followed by a
// DNS subdomain.
func ValidateClusterTrustBundleName(signer string) validation.NameFunc {
	return func(name string, prefix bool) []string {
		if signer == "" {
			if strings.Contains(name, ":") {
				return []string{`ClusterTrustBundle without signer name must not have ":" in its name`}
			}
			return apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
		}
		want := ClusterTrustBundleNamePrefix(signer)
		if !strings.HasPrefix(name, want) {
			return []string{fmt.Sprintf("ClusterTrustBundle for signerName %s must be named with prefix %s", signer, want)}
		}
		return apimachineryvalidation.NameIsDNSSubdomain(strings.TrimPrefix(name, want), prefix)
	}
}

// ValidateClusterTrustBundle validates a bundle being created.
func ValidateClusterTrustBundle(b *certificatesv1.ClusterTrustBundle) field.ErrorList {
	return validateClusterTrustBundle(b, true)
}

// ValidateClusterTrustBundleUpdate validates a change to a bundle: its signer
// stays, and its trust bundle is parsed again only when it changes, so that a
// stored bundle a newer Go no longer parses keeps taking metadata writes.
func ValidateClusterTrustBundleUpdate(b, old *certificatesv1.ClusterTrustBundle) field.ErrorList {
	errs := validateClusterTrustBundle(b, b.Spec.TrustBundle != old.Spec.TrustBundle)
	errs = append(errs, validation.ValidateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(errs, apimachineryvalidation.ValidateImmutableField(b.Spec.SignerName, old.Spec.SignerName, specPath.Child("signerName"))...)
}

func validateClusterTrustBundle(b *certificatesv1.ClusterTrustBundle, parseBundle bool) field.ErrorList {
	errs := validation.ValidateObjectMeta(&b.ObjectMeta, false, ValidateClusterTrustBundleName(b.Spec.SignerName), metadataPath)
	if b.Spec.SignerName != "" {
		errs = append(errs, validation.ValidateSignerName(specPath.Child("signerName"), b.Spec.SignerName)...)
	}
	if parseBundle {
		errs = append(errs, validateTrustBundle(b.Spec.TrustBundle)...)
	}
	return errs
}

// validateTrustBundle takes only CERTIFICATE blocks without headers, each a
// CA certificate, at least one and none twice. Text between blocks is
// allowed: readers drop it.
func validateTrustBundle(in string) field.ErrorList {
	if len(in) > MaxTrustBundleSize {
		return field.ErrorList{field.TooLong(trustBundlePath, "", MaxTrustBundleSize)}
	}
	var errs field.ErrorList
	invalid := func(format string, args ...any) {
		errs = append(errs, field.Invalid(trustBundlePath, omitted, fmt.Sprintf(format, args...)))
	}
	var seen []string             // DER of each good block, in order
	indexes := map[string][]int{} // where each DER was
	rest := []byte(in)
	for i := 0; ; i++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			invalid("entry %d has bad block type: %v", i, b.Type)
			continue
		}
		if len(b.Headers) != 0 {
			invalid("entry %d has PEM block headers", i)
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		switch {
		case err != nil:
			invalid("entry %d does not parse as X.509", i)
			continue
		case !cert.IsCA:
			invalid("entry %d does not have the CA bit set", i)
			continue
		case !cert.BasicConstraintsValid:
			invalid("entry %d has invalid basic constraints", i)
			continue
		}
		der := string(b.Bytes)
		if _, ok := indexes[der]; !ok {
			seen = append(seen, der)
		}
		indexes[der] = append(indexes[der], i)
	}
	// A bad block says enough: no need to add that none was good.
	if len(errs) != 0 {
		return errs
	}
	if len(seen) == 0 {
		invalid("at least one trust anchor must be provided")
	}
	for _, der := range seen {
		if at := indexes[der]; len(at) > 1 {
			invalid("duplicate trust anchor (indices %v)", at)
		}
	}
	return errs
}
