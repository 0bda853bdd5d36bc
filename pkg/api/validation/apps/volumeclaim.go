package apps

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

// validateClaimSpec checks the spec of a StatefulSet's claim template by the
// rules a new PersistentVolumeClaim's spec must pass, as upstream does.
func validateClaimSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	return corevalidation.ValidatePersistentVolumeClaimSpec(spec, fldPath)
}
