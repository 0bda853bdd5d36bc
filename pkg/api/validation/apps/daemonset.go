package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateDaemonSetName is the name rule of a daemon set.
var ValidateDaemonSetName corevalidation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain

// ValidateDaemonSet validates a daemon set being created.
func ValidateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMeta(&ds.ObjectMeta, true, ValidateDaemonSetName, metadataPath)
	return append(errs, validateDaemonSetSpec(&ds.Spec, false, specPath)...)
}

// ValidateDaemonSetUpdate validates an update of a daemon set: its selector
// may not change, and one stored with a label value that is no longer valid
// may keep it.
func ValidateDaemonSetUpdate(newDS, oldDS *appsv1.DaemonSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newDS.ObjectMeta, &oldDS.ObjectMeta, metadataPath)
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newDS.Spec.Selector, oldDS.Spec.Selector, specPath.Child("selector"))...)
	return append(errs, validateDaemonSetSpec(&newDS.Spec, metav1validation.LabelSelectorHasInvalidLabelValue(oldDS.Spec.Selector), specPath)...)
}

// ValidateDaemonSetStatusUpdate validates a write to daemonsets/status.
func ValidateDaemonSetStatusUpdate(newDS, oldDS *appsv1.DaemonSet) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newDS.ObjectMeta, &oldDS.ObjectMeta, metadataPath)
	s, p := &newDS.Status, statusPath
	errs = append(errs, countsNonnegative(p, namedCount{"currentNumberScheduled", s.CurrentNumberScheduled},
		namedCount{"numberMisscheduled", s.NumberMisscheduled}, namedCount{"desiredNumberScheduled", s.DesiredNumberScheduled},
		namedCount{"numberReady", s.NumberReady})...)
	errs = append(errs, nonnegative(s.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, countsNonnegative(p, namedCount{"updatedNumberScheduled", s.UpdatedNumberScheduled},
		namedCount{"numberAvailable", s.NumberAvailable}, namedCount{"numberUnavailable", s.NumberUnavailable})...)
	return append(errs, validateCollisionCount(s.CollisionCount, oldDS.Status.CollisionCount, p.Child("collisionCount"))...)
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, allowInvalidLabelValue bool, fldPath *field.Path) field.ErrorList {
	opts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: allowInvalidLabelValue}
	errs := metav1validation.ValidateLabelSelector(spec.Selector, opts, fldPath.Child("selector"))
	// Unlike the other workloads', a missing selector is reported only as one
	// that matches no template.
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil {
		errs = append(errs, validateTemplateSelected(&spec.Template, selector, fldPath.Child("template"))...)
	}
	if sel := spec.Selector; sel != nil && len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(fldPath.Child("selector"), sel, "empty selector is invalid for daemonset"))
	}
	errs = append(errs, corevalidation.ValidatePodTemplateSpec(&spec.Template, fldPath.Child("template"))...)
	errs = append(errs, validateRestartsForever(&spec.Template.Spec, "DaemonSet", fldPath.Child("template", "spec"))...)
	errs = append(errs, nonnegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	errs = append(errs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonnegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func validateDaemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		return validateRollingUpdateDaemonSet(s.RollingUpdate, fldPath.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(fldPath, daemonSetStrategyAsUpstream(s),
			[]appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType})}
	}
	return nil
}

// validateRollingUpdateDaemonSet: a node runs one pod of the set, so a
// rollout either stops an old pod first (maxUnavailable) or starts the new
// one first (maxSurge), never both and never neither.
func validateRollingUpdateDaemonSet(ru *appsv1.RollingUpdateDaemonSet, fldPath *field.Path) field.ErrorList {
	unavailable, surge := intOrPercent(ru.MaxUnavailable), intOrPercent(ru.MaxSurge)
	unavailablePath, surgePath := fldPath.Child("maxUnavailable"), fldPath.Child("maxSurge")
	errs := validatePositiveIntOrPercent(unavailable, unavailablePath)
	errs = append(errs, validatePositiveIntOrPercent(surge, surgePath)...)
	errs = append(errs, validateNotMoreThan100Percent(unavailable, unavailablePath)...)
	errs = append(errs, validateNotMoreThan100Percent(surge, surgePath)...)
	hasUnavailable, hasSurge := intOrPercentValue(unavailable) != 0, intOrPercentValue(surge) != 0
	switch {
	case hasUnavailable && hasSurge:
		errs = append(errs, field.Invalid(surgePath, surge, "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		errs = append(errs, field.Required(unavailablePath, "cannot be 0 when maxSurge is 0"))
	}
	return errs
}
