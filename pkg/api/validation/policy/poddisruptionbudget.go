package policy

import (
	"slices"
	"strconv"
	"strings"

	policyv1 "k8s.io/api/policy/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePodDisruptionBudgetName is the name rule of a pod disruption budget.
// Upstream's policy group checks no more than the generic rule every object's
// name follows: it must be usable as a path segment.
var ValidatePodDisruptionBudgetName apimachineryvalidation.ValidateNameFunc = path.ValidatePathSegmentName

var (
	metadataPath = field.NewPath("metadata")
	specPath     = field.NewPath("spec")
	statusPath   = field.NewPath("status")
)

// unhealthyPodEvictionPolicies, sorted as upstream lists them.
var unhealthyPodEvictionPolicies = []string{string(policyv1.AlwaysAllow), string(policyv1.IfHealthyBudget)}

// ValidatePodDisruptionBudget validates a budget being created. As upstream,
// the metadata is checked only once the spec is valid.
func ValidatePodDisruptionBudget(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := validateSpec(&pdb.Spec, false)
	if len(errs) == 0 {
		errs = apimachineryvalidation.ValidateObjectMeta(&pdb.ObjectMeta, true, ValidatePodDisruptionBudgetName, metadataPath)
	}
	return errs
}

// ValidatePodDisruptionBudgetUpdate validates an update of a budget: its
// metadata, then its whole spec, which may change. A selector an older server
// accepted, which would now be refused, may stay.
func ValidatePodDisruptionBudgetUpdate(pdb, old *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := validateMetaUpdate(pdb, old)
	return append(errs, validateSpec(&pdb.Spec, hasInvalidSelector(old.Spec.Selector))...)
}

// ValidatePodDisruptionBudgetStatusUpdate validates a write to
// poddisruptionbudgets/status: well-formed conditions and counts that are
// not negative.
func ValidatePodDisruptionBudgetStatusUpdate(pdb, old *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := validateMetaUpdate(pdb, old)
	s := &pdb.Status
	errs = append(errs, metav1validation.ValidateConditions(s.Conditions, statusPath.Child("conditions"))...)
	for _, c := range []struct {
		name  string
		value int32
	}{
		{"disruptionsAllowed", s.DisruptionsAllowed},
		{"currentHealthy", s.CurrentHealthy},
		{"desiredHealthy", s.DesiredHealthy},
		{"expectedPods", s.ExpectedPods},
	} {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(c.value), statusPath.Child(c.name))...)
	}
	return errs
}

// validateMetaUpdate is the check upstream's generic store makes of every
// update's metadata.
func validateMetaUpdate(pdb, old *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&pdb.ObjectMeta, true, ValidatePodDisruptionBudgetName, metadataPath)
	return append(errs, apimachineryvalidation.ValidateObjectMetaUpdate(&pdb.ObjectMeta, &old.ObjectMeta, metadataPath)...)
}

// specValue is the spec as upstream's internal type prints in an error
// message (Go field names, no JSON tags), so that a refused budget reads the
// same as on any cluster.
type specValue struct {
	MinAvailable               *intstr.IntOrString
	Selector                   *metav1.LabelSelector
	MaxUnavailable             *intstr.IntOrString
	UnhealthyPodEvictionPolicy *policyv1.UnhealthyPodEvictionPolicyType
}

func validateSpec(spec *policyv1.PodDisruptionBudgetSpec, allowInvalidSelectorValue bool) field.ErrorList {
	var errs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(specPath, specValue{spec.MinAvailable, spec.Selector, spec.MaxUnavailable, spec.UnhealthyPodEvictionPolicy},
			"minAvailable and maxUnavailable cannot be both set"))
	}
	if spec.MinAvailable != nil {
		errs = append(errs, validateIntOrPercent(*spec.MinAvailable, specPath.Child("minAvailable"))...)
	}
	if spec.MaxUnavailable != nil {
		errs = append(errs, validateIntOrPercent(*spec.MaxUnavailable, specPath.Child("maxUnavailable"))...)
	}
	opts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: allowInvalidSelectorValue}
	errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, opts, specPath.Child("selector"))...)
	if p := spec.UnhealthyPodEvictionPolicy; p != nil && !slices.Contains(unhealthyPodEvictionPolicies, string(*p)) {
		errs = append(errs, field.NotSupported(specPath.Child("unhealthyPodEvictionPolicy"), *p, unhealthyPodEvictionPolicies))
	}
	return errs
}

// validateIntOrPercent: a count of pods that is not negative, or a
// percentage of at most 100%.
func validateIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		msgs := validation.IsValidPercent(v.StrVal)
		for _, msg := range msgs {
			errs = append(errs, field.Invalid(fldPath, v, msg))
		}
		if pct, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%")); len(msgs) == 0 && pct > 100 {
			errs = append(errs, field.Invalid(fldPath, v, "must not be greater than 100%"))
		}
	case intstr.Int:
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(v.IntValue()), fldPath)...)
	default:
		errs = append(errs, field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%%')"))
	}
	return errs
}

// hasInvalidSelector is upstream's test for a stored selector that would be
// refused today (any of its rules, as upstream's policy strategy checks).
func hasInvalidSelector(s *metav1.LabelSelector) bool {
	return s != nil && len(metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, nil)) > 0
}
