package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePreemptionPolicy checks a preemption policy by the pod's rule; a
// PriorityClass carries one that admission copies into pods.
func ValidatePreemptionPolicy(policy corev1.PreemptionPolicy, fldPath *field.Path) field.ErrorList {
	return validatePreemptionPolicy(policy, fldPath)
}
