package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePodTemplate validates a PodTemplate object as upstream does: its
// metadata, then its template (ValidatePodTemplateSpec at "template": the
// template's labels and annotations, and its pod spec by a pod's rules).
func ValidatePodTemplate(t *corev1.PodTemplate) field.ErrorList {
	errs := ValidateObjectMeta(&t.ObjectMeta, true, ValidatePodTemplateName, metadataPath)
	return append(errs, ValidatePodTemplateSpec(&t.Template, field.NewPath("template"))...)
}

// ValidatePodTemplateUpdate validates an update of a PodTemplate object: the
// metadata rules of an update, and the whole template again, which may change.
func ValidatePodTemplateUpdate(newT, oldT *corev1.PodTemplate) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newT.ObjectMeta, &oldT.ObjectMeta, metadataPath)
	return append(errs, ValidatePodTemplateSpec(&newT.Template, field.NewPath("template"))...)
}
