package resource

import (
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateDeviceClass validates a DeviceClass: which devices it selects and
// the configuration its claims get.
func ValidateDeviceClass(c *resourcev1.DeviceClass) field.ErrorList {
	errs := validation.ValidateObjectMeta(&c.ObjectMeta, false, validateName, metadataPath)
	return append(errs, validateDeviceClassSpec(&c.Spec, field.NewPath("spec"))...)
}

// ValidateDeviceClassUpdate validates an update of a DeviceClass, whose spec
// may change: claims allocated before keep what they got.
func ValidateDeviceClassUpdate(c, old *resourcev1.DeviceClass) field.ErrorList {
	errs := ValidateDeviceClass(c)
	return append(errs, validation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, metadataPath)...)
}

func validateDeviceClassSpec(s *resourcev1.DeviceClassSpec, fldPath *field.Path) field.ErrorList {
	errs := validateSelectors(s.Selectors, fldPath.Child("selectors"))
	errs = append(errs, each(s.Config, resourcev1.DeviceConfigMaxSize, fldPath.Child("config"),
		func(c resourcev1.DeviceClassConfiguration, p *field.Path) field.ErrorList {
			return validateOpaqueConfig(c.DeviceConfiguration, p)
		})...)
	if n := s.ExtendedResourceName; n != nil && !isExtendedResourceName(*n) {
		errs = append(errs, field.Invalid(fldPath.Child("extendedResourceName"), *n, "must be a valid extended resource name"))
	}
	return errs
}

// isExtendedResourceName: a qualified name outside kubernetes.io, which
// also makes a valid quota name "requests.<name>".
func isExtendedResourceName(name string) bool {
	if !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/") || strings.HasPrefix(name, "requests.") {
		return false
	}
	return len(validation.ValidateQualifiedName("requests."+name, nil)) == 0
}
