package validation

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxDataSize is the most a ConfigMap's or Secret's values may hold: 1 MiB.
const maxDataSize = 1 << 20

// ValidateConfigMap validates a config map: valid keys, no key in both data
// and binaryData, 1 MiB of values in all.
func ValidateConfigMap(c *corev1.ConfigMap) field.ErrorList {
	errs := ValidateObjectMeta(&c.ObjectMeta, true, ValidateConfigMapName, metadataPath)
	size := 0
	for k, v := range c.Data {
		p := field.NewPath("data").Key(k)
		errs = append(errs, invalidEach(p, k, validation.IsConfigMapKey(k))...)
		if _, dup := c.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(p, k, "duplicate of key present in binaryData"))
		}
		size += len(v)
	}
	for k, v := range c.BinaryData {
		errs = append(errs, invalidEach(field.NewPath("binaryData").Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(v)
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxDataSize))
	}
	return errs
}

// ValidateConfigMapUpdate validates an update of a config map; an immutable
// one keeps its data for good.
func ValidateConfigMapUpdate(newC, oldC *corev1.ConfigMap) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newC.ObjectMeta, &oldC.ObjectMeta, metadataPath)
	if oldC.Immutable != nil && *oldC.Immutable {
		if newC.Immutable == nil || !*newC.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSetMsg))
		}
		if !reflect.DeepEqual(newC.Data, oldC.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSetMsg))
		}
		if !reflect.DeepEqual(newC.BinaryData, oldC.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableWhenSetMsg))
		}
	}
	return append(errs, ValidateConfigMap(newC)...)
}
