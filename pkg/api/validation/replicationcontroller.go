package validation

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateReplicationController validates a replication controller being created.
func ValidateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	errs := ValidateObjectMeta(&rc.ObjectMeta, true, ValidateReplicationControllerName, metadataPath)
	return append(errs, validateReplicationControllerSpec(&rc.Spec, field.NewPath("spec"))...)
}

// ValidateReplicationControllerUpdate validates an update of a replication
// controller; its selector and template may change.
func ValidateReplicationControllerUpdate(newRC, oldRC *corev1.ReplicationController) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newRC.ObjectMeta, &oldRC.ObjectMeta, metadataPath)
	return append(errs, validateReplicationControllerSpec(&newRC.Spec, field.NewPath("spec"))...)
}

// ValidateReplicationControllerStatusUpdate validates a write to
// replicationcontrollers/status.
func ValidateReplicationControllerStatusUpdate(newRC, oldRC *corev1.ReplicationController) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newRC.ObjectMeta, &oldRC.ObjectMeta, metadataPath)
	s, p := newRC.Status, field.NewPath("status")
	errs = append(errs, validateNonnegative(int64(s.Replicas), p.Child("replicas"))...)
	errs = append(errs, validateNonnegative(int64(s.FullyLabeledReplicas), p.Child("fullyLabeledReplicas"))...)
	errs = append(errs, validateNonnegative(int64(s.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, validateNonnegative(int64(s.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, validateNonnegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	const msg = "cannot be greater than status.replicas"
	if s.FullyLabeledReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("fullyLabeledReplicas"), s.FullyLabeledReplicas, msg))
	}
	if s.ReadyReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("readyReplicas"), s.ReadyReplicas, msg))
	}
	if s.AvailableReplicas > s.Replicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, msg))
	}
	if s.AvailableReplicas > s.ReadyReplicas {
		errs = append(errs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}

func validateReplicationControllerSpec(spec *corev1.ReplicationControllerSpec, fldPath *field.Path) field.ErrorList {
	errs := validateNonnegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))
	if labels.Set(spec.Selector).AsSelector().Empty() {
		errs = append(errs, field.Required(fldPath.Child("selector"), ""))
	}
	if spec.Replicas != nil {
		errs = append(errs, validateNonnegative(int64(*spec.Replicas), fldPath.Child("replicas"))...)
	}
	return append(errs, validateTemplateForRC(spec.Template, spec.Selector, fldPath.Child("template"))...)
}

// validateTemplateForRC: the template must produce pods the selector counts,
// and pods that restart forever, since the controller replaces only deleted pods.
func validateTemplateForRC(t *corev1.PodTemplateSpec, selector map[string]string, fldPath *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	if s := labels.Set(selector).AsSelector(); !s.Empty() && !s.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, ValidatePodTemplateSpec(t, fldPath)...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return errs
}

// ValidateScale validates a write to a scale subresource (kubectl scale).
func ValidateScale(s *autoscalingv1.Scale) field.ErrorList {
	errs := ValidateObjectMeta(&s.ObjectMeta, true, ValidateReplicationControllerName, metadataPath)
	if s.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "replicas"), s.Spec.Replicas, isNegativeErrorMsg))
	}
	return errs
}
