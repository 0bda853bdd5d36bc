package apps

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

// Access and volume modes a claim may ask for, as upstream lists them (sorted).
var (
	supportedAccessModes = []corev1.PersistentVolumeAccessMode{
		corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod,
	}
	supportedVolumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
)

// validateClaimSpec checks the spec of a StatefulSet's claim template by the
// rules upstream applies to a new PersistentVolumeClaim's spec that matter
// before any volume is bound: access modes, a positive storage request, the
// selector, and the storage class and volume mode. Data sources are
// checked when Skiff serves claims.
func validateClaimSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	}
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	oncePod, other := false, false
	for _, mode := range spec.AccessModes {
		switch {
		case mode == corev1.ReadWriteOncePod:
			oncePod = true
		case slices.Contains(supportedAccessModes, mode):
			other = true
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("accessModes"), mode, supportedAccessModes))
		}
	}
	if oncePod && other {
		errs = append(errs, field.Forbidden(fldPath.Child("accessModes"), "may not use ReadWriteOncePod with other access modes"))
	}
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if c := spec.StorageClassName; c != nil && *c != "" {
		errs = append(errs, corevalidation.ValidateName(apimachineryvalidation.NameIsDNSSubdomain, *c, fldPath.Child("storageClassName"))...)
	}
	if m := spec.VolumeMode; m != nil && !slices.Contains(supportedVolumeModes, *m) {
		errs = append(errs, field.NotSupported(fldPath.Child("volumeMode"), *m, supportedVolumeModes))
	}
	return errs
}
