package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The rules below are core rules other groups apply to their own fields, as
// upstream's storage.k8s.io and resource.k8s.io validation calls the core's.

// ValidateCSIDriverName checks the name of a CSI driver (a StorageClass's
// provisioner, a VolumeAttachment's attacher) or of a DRA driver, which
// upstream names by the same rule.
func ValidateCSIDriverName(name string, fldPath *field.Path) field.ErrorList {
	return validateCSIDriverName(name, fldPath)
}

// ValidateNodeSelector checks a required node selector: at least one term,
// each of label expressions and metadata.name field expressions.
func ValidateNodeSelector(ns *corev1.NodeSelector, fldPath *field.Path) field.ErrorList {
	return validateNodeSelector(ns, fldPath)
}

// ValidatePersistentVolumeSpec checks a volume's spec as a PersistentVolume
// carries it (a VolumeAttachment's inline volume).
func ValidatePersistentVolumeSpec(spec *corev1.PersistentVolumeSpec, fldPath *field.Path) field.ErrorList {
	return validatePersistentVolumeSpec(spec, fldPath)
}
