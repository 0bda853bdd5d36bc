package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateNamespace validates a namespace being created: a DNS-1123 label name,
// no namespace of its own, valid spec.finalizers.
func ValidateNamespace(n *corev1.Namespace) field.ErrorList {
	errs := ValidateObjectMeta(&n.ObjectMeta, false, ValidateNamespaceName, metadataPath)
	for _, f := range n.Spec.Finalizers {
		errs = append(errs, validateKubeFinalizerName(string(f), field.NewPath("spec", "finalizers"))...)
	}
	return errs
}

// ValidateNamespaceUpdate validates an update of a namespace. Only metadata is
// checked: spec.finalizers change through namespaces/finalize and the phase
// through namespaces/status, and the API server keeps both from the stored
// object on a plain update.
func ValidateNamespaceUpdate(newNS, oldNS *corev1.Namespace) field.ErrorList {
	return ValidateObjectMetaUpdate(&newNS.ObjectMeta, &oldNS.ObjectMeta, metadataPath)
}

// ValidateNamespaceStatusUpdate validates a write to namespaces/status: the
// phase must agree with whether the namespace is being deleted.
func ValidateNamespaceStatusUpdate(newNS, oldNS *corev1.Namespace) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newNS.ObjectMeta, &oldNS.ObjectMeta, metadataPath)
	// Upstream's path, capital P included.
	phasePath := field.NewPath("status", "Phase")
	if newNS.DeletionTimestamp.IsZero() {
		if newNS.Status.Phase != corev1.NamespaceActive {
			errs = append(errs, field.Invalid(phasePath, newNS.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty"))
		}
	} else if newNS.Status.Phase != corev1.NamespaceTerminating {
		errs = append(errs, field.Invalid(phasePath, newNS.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
	}
	return errs
}

// ValidateNamespaceFinalizeUpdate validates a write to namespaces/finalize.
func ValidateNamespaceFinalizeUpdate(newNS, oldNS *corev1.Namespace) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newNS.ObjectMeta, &oldNS.ObjectMeta, metadataPath)
	for i, f := range newNS.Spec.Finalizers {
		errs = append(errs, validateKubeFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	return errs
}
