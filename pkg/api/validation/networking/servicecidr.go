package networking

import (
	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var cidrsPath = field.NewPath("spec", "cidrs")

// ValidateServiceCIDR validates a ServiceCIDR: one or two CIDRs, strictly
// parsed, of different families.
func ValidateServiceCIDR(sc *networkingv1.ServiceCIDR) field.ErrorList {
	errs := validation.ValidateObjectMeta(&sc.ObjectMeta, false, ValidateServiceCIDRName, metadataPath)
	return append(errs, validateCIDRs(&sc.Spec)...)
}

func validateCIDRs(spec *networkingv1.ServiceCIDRSpec) field.ErrorList {
	cidrs := spec.CIDRs
	switch {
	case len(cidrs) == 0:
		return field.ErrorList{field.Required(cidrsPath, "at least one CIDR required")}
	case len(cidrs) > 2:
		return field.ErrorList{field.Invalid(cidrsPath, spec, "may only hold up to 2 values")}
	}
	var errs field.ErrorList
	for i, cidr := range cidrs {
		errs = append(errs, utilvalidation.IsValidCIDR(cidrsPath.Index(i), cidr)...)
	}
	if len(cidrs) == 2 {
		if f := netutils.IPFamilyOfCIDRString(cidrs[0]); f != netutils.IPFamilyUnknown && f == netutils.IPFamilyOfCIDRString(cidrs[1]) {
			errs = append(errs, field.Invalid(cidrsPath, cidrs,
				"may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	return errs
}

// ValidateServiceCIDRUpdate validates an update of a ServiceCIDR. Its CIDRs
// are immutable, addresses are allocated from them, except that a
// single-stack range may gain a second family.
func ValidateServiceCIDRUpdate(sc, old *networkingv1.ServiceCIDR) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, metadataPath)
	newCIDRs, oldCIDRs := sc.Spec.CIDRs, old.Spec.CIDRs
	switch {
	case len(newCIDRs) == len(oldCIDRs):
		for i := range oldCIDRs {
			if newCIDRs[i] != oldCIDRs[i] {
				errs = append(errs, field.Invalid(cidrsPath.Index(i), newCIDRs[i], apimachineryvalidation.FieldImmutableErrorMsg))
			}
		}
	case len(oldCIDRs) == 1 && len(newCIDRs) == 2:
		if newCIDRs[0] != oldCIDRs[0] {
			errs = append(errs, field.Invalid(cidrsPath.Index(0), newCIDRs[0], apimachineryvalidation.FieldImmutableErrorMsg))
		}
		errs = append(errs, validateCIDRs(&sc.Spec)...)
	default:
		errs = append(errs, field.Invalid(cidrsPath, newCIDRs, apimachineryvalidation.FieldImmutableErrorMsg))
	}
	return errs
}

// ValidateServiceCIDRStatusUpdate validates a write to a ServiceCIDR's
// status, which upstream leaves to its controllers.
func ValidateServiceCIDRStatusUpdate(sc, old *networkingv1.ServiceCIDR) field.ErrorList {
	return validation.ValidateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, metadataPath)
}
