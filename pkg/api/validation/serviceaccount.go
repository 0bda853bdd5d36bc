package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateServiceAccount validates a service account; only its metadata has rules.
func ValidateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	return ValidateObjectMeta(&sa.ObjectMeta, true, ValidateServiceAccountName, metadataPath)
}

// ValidateServiceAccountUpdate validates an update of a service account.
func ValidateServiceAccountUpdate(newSA, oldSA *corev1.ServiceAccount) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newSA.ObjectMeta, &oldSA.ObjectMeta, metadataPath)
	return append(errs, ValidateServiceAccount(newSA)...)
}
