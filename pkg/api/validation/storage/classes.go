package storage

import (
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// Limits on a class's parameters, which are handed to the driver whole.
const (
	maxParameterSize  = 256 * (1 << 10) // bytes of keys and values together
	maxParameterCount = 512
)

var (
	metadataPath          = field.NewPath("metadata")
	validateClassName     = apimachineryvalidation.NameIsDNSSubdomain
	reclaimPolicies       = []string{string(corev1.PersistentVolumeReclaimDelete), string(corev1.PersistentVolumeReclaimRetain)}
	volumeBindingModes    = []string{string(storagev1.VolumeBindingImmediate), string(storagev1.VolumeBindingWaitForFirstConsumer)}
	immutable             = apimachineryvalidation.ValidateImmutableField
	storageClassImmutable = []string{"parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"}
)

// ValidateStorageClass validates a StorageClass. Its provisioner is matched
// against drivers case-insensitively, so it is checked in lower case.
func ValidateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	errs := validation.ValidateObjectMeta(&sc.ObjectMeta, false, validateClassName, metadataPath)
	errs = append(errs, validateProvisioner(sc.Provisioner, field.NewPath("provisioner"))...)
	errs = append(errs, validateParameters(sc.Parameters, true, field.NewPath("parameters"))...)
	if p := sc.ReclaimPolicy; p != nil && *p != "" && !slices.Contains(reclaimPolicies, string(*p)) {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, reclaimPolicies))
	}
	modePath := field.NewPath("volumeBindingMode")
	switch m := sc.VolumeBindingMode; {
	case m == nil:
		errs = append(errs, field.Required(modePath, ""))
	case !slices.Contains(volumeBindingModes, string(*m)):
		errs = append(errs, field.NotSupported(modePath, *m, volumeBindingModes))
	}
	return append(errs, validateAllowedTopologies(sc.AllowedTopologies, field.NewPath("allowedTopologies"))...)
}

// ValidateStorageClassUpdate validates an update of a StorageClass. What
// shapes the volumes it provisions is fixed: volumes made before would
// otherwise differ from those made after.
func ValidateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	errs := ValidateStorageClass(sc)
	errs = append(errs, validation.ValidateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	newFields := []any{sc.Parameters, sc.Provisioner, sc.ReclaimPolicy, sc.VolumeBindingMode}
	oldFields := []any{old.Parameters, old.Provisioner, old.ReclaimPolicy, old.VolumeBindingMode}
	for i, name := range storageClassImmutable {
		errs = append(errs, immutable(newFields[i], oldFields[i], field.NewPath(name))...)
	}
	return errs
}

// ValidateVolumeAttributesClass validates a VolumeAttributesClass: a driver
// and the parameters it is asked to apply, at least one.
func ValidateVolumeAttributesClass(vac *storagev1.VolumeAttributesClass) field.ErrorList {
	errs := validation.ValidateObjectMeta(&vac.ObjectMeta, false, validateClassName, metadataPath)
	errs = append(errs, validateProvisioner(vac.DriverName, field.NewPath("driverName"))...)
	return append(errs, validateParameters(vac.Parameters, false, field.NewPath("parameters"))...)
}

// ValidateVolumeAttributesClassUpdate validates an update of a
// VolumeAttributesClass, whose driver and parameters are fixed: volumes
// already modified to the class keep what they were given.
func ValidateVolumeAttributesClassUpdate(vac, old *storagev1.VolumeAttributesClass) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&vac.ObjectMeta, &old.ObjectMeta, metadataPath)
	if vac.DriverName != old.DriverName {
		errs = append(errs, field.Forbidden(field.NewPath("driverName"), "updates to driverName are forbidden."))
	}
	if !reflect.DeepEqual(vac.Parameters, old.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	return append(errs, ValidateVolumeAttributesClass(vac)...)
}

func validateProvisioner(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return validation.ValidateQualifiedName(strings.ToLower(name), fldPath)
}

func validateParameters(params map[string]string, allowEmpty bool, fldPath *field.Path) field.ErrorList {
	if len(params) > maxParameterCount {
		return field.ErrorList{field.TooLong(fldPath, "", maxParameterCount)}
	}
	var errs field.ErrorList
	size := 0
	for k, v := range params {
		if k == "" {
			errs = append(errs, field.Invalid(fldPath, k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > maxParameterSize {
		errs = append(errs, field.TooLong(fldPath, "", maxParameterSize))
	}
	if !allowEmpty && len(params) == 0 {
		errs = append(errs, field.Required(fldPath, "must contain at least one key/value pair"))
	}
	return errs
}

// validateAllowedTopologies checks each term's label expressions and
// refuses a term that repeats another.
func validateAllowedTopologies(terms []corev1.TopologySelectorTerm, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	var seen []map[string]sets.Set[string]
	for i, term := range terms {
		termPath := fldPath.Index(i)
		exprs := map[string]sets.Set[string]{}
		for j, req := range term.MatchLabelExpressions {
			p := termPath.Child("matchLabelExpressions").Index(j)
			values := sets.New[string]()
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(p.Child("values"), ""))
			}
			for k, v := range req.Values {
				if values.Has(v) {
					errs = append(errs, field.Duplicate(p.Child("values").Index(k), v))
				}
				values.Insert(v)
			}
			errs = append(errs, metav1validation.ValidateLabelName(req.Key, p.Child("key"))...)
			if _, ok := exprs[req.Key]; ok {
				errs = append(errs, field.Duplicate(p.Child("key"), req.Key))
			}
			exprs[req.Key] = values
		}
		for _, other := range seen {
			if reflect.DeepEqual(exprs, other) {
				errs = append(errs, field.Duplicate(termPath.Child("matchLabelExpressions"), ""))
			}
		}
		seen = append(seen, exprs)
	}
	return errs
}
