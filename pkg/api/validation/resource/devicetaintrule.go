package resource

import (
	resourcev1 "k8s.io/api/resource/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateDeviceTaintRule validates a DeviceTaintRule: which devices it
// taints (none named: all of them) and the taint.
func ValidateDeviceTaintRule(r *resourcev1.DeviceTaintRule) field.ErrorList {
	errs := validation.ValidateObjectMeta(&r.ObjectMeta, false, validateName, metadataPath)
	return append(errs, validateDeviceTaintRuleSpec(&r.Spec, nil)...)
}

// ValidateDeviceTaintRuleUpdate validates an update of a DeviceTaintRule. An
// effect stored before is not checked again, as upstream ratchets it.
func ValidateDeviceTaintRuleUpdate(r, old *resourcev1.DeviceTaintRule) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(errs, validateDeviceTaintRuleSpec(&r.Spec, &old.Spec)...)
}

// ValidateDeviceTaintRuleStatusUpdate validates a write to a rule's status:
// conditions, at most eight.
func ValidateDeviceTaintRuleStatusUpdate(r, old *resourcev1.DeviceTaintRule) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, metadataPath)
	condPath := field.NewPath("status", "conditions")
	errs = append(errs, metav1validation.ValidateConditions(r.Status.Conditions, condPath)...)
	if n := len(r.Status.Conditions); n > resourcev1.DeviceTaintRuleStatusMaxConditions {
		errs = append(errs, field.TooMany(condPath, n, resourcev1.DeviceTaintRuleStatusMaxConditions))
	}
	return errs
}

func validateDeviceTaintRuleSpec(s, old *resourcev1.DeviceTaintRuleSpec) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	if sel := s.DeviceSelector; sel != nil {
		p := specPath.Child("deviceSelector")
		if sel.Driver != nil {
			errs = append(errs, validateDriverName(*sel.Driver, p.Child("driver"))...)
		}
		if sel.Pool != nil {
			errs = append(errs, validatePoolName(*sel.Pool, p.Child("pool"))...)
		}
		if sel.Device != nil {
			errs = append(errs, validateLabelName(*sel.Device, p.Child("device"))...)
		}
	}
	checkEffect := old == nil || old.Taint.Effect != s.Taint.Effect
	return append(errs, validateTaintOf(s.Taint, checkEffect, specPath.Child("taint"))...)
}
