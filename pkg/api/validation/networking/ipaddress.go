package networking

import (
	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var parentRefPath = field.NewPath("spec", "parentRef")

// ValidateIPAddress validates an IPAddress: named by its address, with a
// reference to the object that holds it (the core group's is empty).
func ValidateIPAddress(ip *networkingv1.IPAddress) field.ErrorList {
	errs := validation.ValidateObjectMeta(&ip.ObjectMeta, false, ValidateIPAddressName, metadataPath)
	ref := ip.Spec.ParentRef
	if ref == nil {
		return append(errs, field.Required(parentRefPath, ""))
	}
	if ref.Group != "" {
		errs = append(errs, validateSubdomain(ref.Group, parentRefPath.Child("group"))...)
	}
	errs = append(errs, validateSegmentName(ref.Resource, parentRefPath.Child("resource"))...)
	errs = append(errs, validateSegmentName(ref.Name, parentRefPath.Child("name"))...)
	if ref.Namespace != "" {
		errs = append(errs, validateSegmentName(ref.Namespace, parentRefPath.Child("namespace"))...)
	}
	return errs
}

// ValidateIPAddressUpdate validates an update of an IPAddress: the holder
// never changes, an address is released by deleting it.
func ValidateIPAddressUpdate(ip, old *networkingv1.IPAddress) field.ErrorList {
	errs := ValidateIPAddress(ip)
	errs = append(errs, validation.ValidateObjectMetaUpdate(&ip.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(errs, apimachineryvalidation.ValidateImmutableField(ip.Spec.ParentRef, old.Spec.ParentRef, parentRefPath)...)
}
