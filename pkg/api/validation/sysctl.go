package validation

import (
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilsysctl "k8s.io/component-helpers/node/util/sysctl"
)

// Upstream's sysctl names: segments of lower-case letters, digits, '-' and
// '_', separated by dots or slashes (sysctl.d(5) accepts both).
const (
	sysctlSegmentFmt      = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
	sysctlContainSlashFmt = "(" + sysctlSegmentFmt + "[\\./])*" + sysctlSegmentFmt
	sysctlMaxLength       = 253
)

var sysctlNameRegexp = regexp.MustCompile("^" + sysctlContainSlashFmt + "$")

// IsValidSysctlName reports whether name is a sysctl name upstream accepts.
func IsValidSysctlName(name string) bool {
	return len(name) <= sysctlMaxLength && sysctlNameRegexp.MatchString(name)
}

// validateSysctls checks spec.securityContext.sysctls: names valid and unique.
// Whether the node allows each is the node's business.
func validateSysctls(sysctls []corev1.Sysctl, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, s := range sysctls {
		namePath := fldPath.Index(i).Child("name")
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(namePath, ""))
		case !IsValidSysctlName(s.Name):
			errs = append(errs, field.Invalid(namePath, s.Name, fmt.Sprintf("must have at most %d characters and match regex %s", sysctlMaxLength, sysctlNameRegexp)))
		case names.Has(s.Name):
			errs = append(errs, field.Duplicate(namePath, s.Name))
		}
		names.Insert(s.Name)
	}
	return errs
}

// validateHostSysctls refuses a namespaced sysctl in a namespace the pod
// shares with the host: setting it would change the host's. Checked on
// create only, as upstream lets a stored pod that already has one be updated
// (and a pod's sysctls and host namespaces cannot change).
func validateHostSysctls(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	if spec.SecurityContext == nil {
		return nil
	}
	var errs field.ErrorList
	for i, s := range spec.SecurityContext.Sysctls {
		ns, _, _ := utilsysctl.GetNamespace(s.Name)
		switch {
		case spec.HostNetwork && ns == utilsysctl.NetNamespace:
			errs = append(errs, field.Invalid(fldPath.Index(i).Child("name"), s.Name, "may not be specified when 'hostNetwork' is true"))
		case spec.HostIPC && ns == utilsysctl.IPCNamespace:
			errs = append(errs, field.Invalid(fldPath.Index(i).Child("name"), s.Name, "may not be specified when 'hostIPC' is true"))
		}
	}
	return errs
}
