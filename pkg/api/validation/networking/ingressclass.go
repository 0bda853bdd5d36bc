package networking

import (
	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

const maxControllerLength = 250

var supportedScopes = []string{networkingv1.IngressClassParametersReferenceScopeCluster,
	networkingv1.IngressClassParametersReferenceScopeNamespace}

// ValidateIngressClass validates an IngressClass: its controller is a
// domain-prefixed path ("example.com/ingress"), and its parameters name an
// object, in a namespace exactly when their scope is Namespace.
func ValidateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	errs := validation.ValidateObjectMeta(&ic.ObjectMeta, false, ValidateIngressClassName, metadataPath)
	specPath := field.NewPath("spec")
	if len(ic.Spec.Controller) > maxControllerLength {
		errs = append(errs, field.TooLong(specPath.Child("controller"), "", maxControllerLength))
	}
	errs = append(errs, utilvalidation.IsDomainPrefixedPath(specPath.Child("controller"), ic.Spec.Controller)...)
	if p := ic.Spec.Parameters; p != nil {
		errs = append(errs, validateParameters(p, specPath.Child("parameters"))...)
	}
	return errs
}

// ValidateIngressClassUpdate validates an update of an IngressClass. The
// controller is immutable: the Ingresses of the class were handed to it.
func ValidateIngressClassUpdate(ic, old *networkingv1.IngressClass) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&ic.ObjectMeta, &old.ObjectMeta, metadataPath)
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(ic.Spec.Controller, old.Spec.Controller,
		field.NewPath("spec", "controller"))...)
	return append(errs, ValidateIngressClass(ic)...)
}

func validateParameters(p *networkingv1.IngressClassParametersReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if p.APIGroup != nil {
		errs = append(errs, validateSubdomain(*p.APIGroup, fldPath.Child("apiGroup"))...)
	}
	errs = append(errs, validateSegmentName(p.Kind, fldPath.Child("kind"))...)
	errs = append(errs, validateSegmentName(p.Name, fldPath.Child("name"))...)
	if p.Scope == nil {
		return append(errs, field.Required(fldPath.Child("scope"), ""))
	}
	nsPath := fldPath.Child("namespace")
	switch *p.Scope {
	case networkingv1.IngressClassParametersReferenceScopeNamespace:
		if p.Namespace == nil {
			errs = append(errs, field.Required(nsPath, "`parameters.scope` is set to 'Namespace'"))
		} else {
			errs = append(errs, validation.ValidateName(validation.ValidateNamespaceName, *p.Namespace, nsPath)...)
		}
	case networkingv1.IngressClassParametersReferenceScopeCluster:
		if p.Namespace != nil {
			errs = append(errs, field.Forbidden(nsPath, "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("scope"), *p.Scope, supportedScopes))
	}
	return errs
}
