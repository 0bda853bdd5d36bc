package apps

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

var (
	metadataPath = field.NewPath("metadata")
	specPath     = field.NewPath("spec")
	statusPath   = field.NewPath("status")
)

// Messages kubectl shows for the rules every workload shares.
const (
	selectorMismatchMsg   = "`selector` does not match template `labels`"
	greaterThanReplicas   = "cannot be greater than status.replicas"
	greaterThanReadyMsg   = "cannot be greater than readyReplicas"
	collisionDecrementMsg = "cannot be decremented"
)

func nonnegative(value int64, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(value, fldPath)
}

// int32Value is what upstream's internal types hold for an optional v1
// integer: zero when unset. Validation runs after defaulting, which sets it.
func int32Value(p *int32) int64 { return int64(ptr.Deref(p, 0)) }

// validateRequiredSelector checks the selector of a workload that must have
// one (Deployment, ReplicaSet, StatefulSet): present, well formed, and not
// empty, since an empty selector would claim every pod in the namespace.
// kind is the word upstream's message uses.
func validateRequiredSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
	}
	return errs
}

// validateTemplateSelected checks that a workload's template makes pods its
// selector counts; a nil selector matches none.
func validateTemplateSelected(t *corev1.PodTemplateSpec, selector labels.Selector, fldPath *field.Path) field.ErrorList {
	if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		return field.ErrorList{field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, selectorMismatchMsg)}
	}
	return nil
}

// validateRestartsForever: a workload replaces pods that are gone, not pods
// that finished, so its pods must restart forever and never time out. kind
// names the workload in upstream's message.
func validateRestartsForever(spec *corev1.PodSpec, kind string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(fldPath.Child("restartPolicy"), spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// validateReplicaSetTemplate is upstream's rule for the template of a
// ReplicaSet and of a Deployment (whose ReplicaSets stamp it): a selector that
// parses, a template it matches, pods that restart forever.
func validateReplicaSetTemplate(t *corev1.PodTemplateSpec, sel *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath.Child("selector"), sel, "invalid label selector")}
	}
	errs := validateTemplateSelected(t, selector, fldPath.Child("template"))
	errs = append(errs, corevalidation.ValidatePodTemplateSpec(t, fldPath.Child("template"))...)
	return append(errs, validateRestartsForever(&t.Spec, "ReplicaSet", fldPath.Child("template", "spec"))...)
}

// countsNotAbove checks, in order, that no count a status reports exceeds
// bound (status.replicas, or readyReplicas for the available ones).
func countsNotAbove(bound int32, msg string, fldPath *field.Path, counts ...namedCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		if c.value > bound {
			errs = append(errs, field.Invalid(fldPath.Child(c.name), c.value, msg))
		}
	}
	return errs
}

// countsNonnegative checks, in order, that no count a status reports is negative.
func countsNonnegative(fldPath *field.Path, counts ...namedCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		errs = append(errs, nonnegative(int64(c.value), fldPath.Child(c.name))...)
	}
	return errs
}

// namedCount is one replica count of a status, by its JSON name.
type namedCount struct {
	name  string
	value int32
}

// validateCollisionCount: a collision count may grow, never shrink, since
// controllers fold it into the names of what they create.
func validateCollisionCount(newCount, oldCount *int32, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if newCount != nil {
		errs = append(errs, nonnegative(int64(*newCount), fldPath)...)
	}
	if oldCount != nil && (newCount == nil || *newCount < *oldCount) {
		errs = append(errs, field.Invalid(fldPath, ptr.Deref(newCount, 0), collisionDecrementMsg))
	}
	return errs
}

// intOrPercent is an optional v1 count-or-percentage as upstream's internal
// types hold it: zero when unset.
func intOrPercent(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.IntOrString{}
	}
	return *v
}

// validatePositiveIntOrPercent checks a count (not negative) or a percentage
// ("25%").
func validatePositiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v.Type == intstr.String {
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fldPath, v, msg))
		}
		return errs
	}
	return nonnegative(int64(v.IntValue()), fldPath)
}

// percentValue is the number of a valid percentage, and whether it is one.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

// intOrPercentValue is the number a count or percentage states ("25%" is 25).
func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

// validateNotMoreThan100Percent refuses a percentage above 100%.
func validateNotMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
	}
	return nil
}
