package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateTolerations checks tolerations by the pod's rules. A RuntimeClass
// carries tolerations that admission copies into pods, so they must pass the
// same rules.
func ValidateTolerations(tolerations []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	return validateTolerations(tolerations, fldPath)
}

// ValidateContainerResourceRequirements checks requirements by a container's
// rules (upstream reuses them for a RuntimeClass's overhead, as limits).
func ValidateContainerResourceRequirements(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	return validateResourceRequirements(r, fldPath)
}
