package coordination

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateLeaseName is the name rule of a lease.
var ValidateLeaseName validation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain

var metadataPath = field.NewPath("metadata")

// ValidateLease validates a lease, the object behind leader election and node
// heartbeats.
func ValidateLease(l *coordinationv1.Lease) field.ErrorList {
	errs := validation.ValidateObjectMeta(&l.ObjectMeta, true, ValidateLeaseName, metadataPath)
	return append(errs, validateLeaseSpec(&l.Spec, field.NewPath("spec"))...)
}

// ValidateLeaseUpdate validates an update of a lease.
func ValidateLeaseUpdate(newL, oldL *coordinationv1.Lease) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&newL.ObjectMeta, &oldL.ObjectMeta, metadataPath)
	return append(errs, validateLeaseSpec(&newL.Spec, field.NewPath("spec"))...)
}

func validateLeaseSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if spec.Strategy != nil {
		errs = append(errs, validation.ValidateQualifiedName(string(*spec.Strategy), fldPath.Child("strategy"))...)
	}
	if spec.PreferredHolder != nil && *spec.PreferredHolder != "" && spec.Strategy == nil {
		errs = append(errs, field.Forbidden(fldPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}
