package kubectl

import (
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/component-base/version"
)

// devVersion is what the client version becomes in a build that did not set it.
const devVersion = "v0.0.0-master"

// useDevVersionIfUnset makes a build without the version ldflags (go build, go
// test) report v0.0.0-master as its client version. Left as it is, the placeholder
// "v0.0.0-master+$Format:%H$" is not a semantic version, and `kubectl version`
// against any server fails comparing the two instead of warning about the skew.
// Release builds set k8s.io/component-base/version.gitVersion (and gitMajor,
// gitMinor) with -ldflags -X, as kubectl's own build does.
func useDevVersionIfUnset() {
	if _, err := utilversion.ParseSemantic(version.Get().GitVersion); err == nil {
		return
	}
	// SetDynamicVersion accepts only the build's own major.minor.patch, which for
	// the placeholder is 0.0.0.
	_ = version.SetDynamicVersion(devVersion)
}
