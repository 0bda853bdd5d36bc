package policy

import (
	"context"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	printers "github.com/skiffhq/skiff/pkg/api/printers/policy"
	validation "github.com/skiffhq/skiff/pkg/api/validation/policy"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(podDisruptionBudgets) }

// podDisruptionBudgets limit voluntary disruptions of the pods they select.
// As upstream's strategy does, a change to the spec moves
// metadata.generation, and every update must name the resourceVersion it
// read: the disruption controller and evictions race on the status.
func podDisruptionBudgets(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("PodDisruptionBudget"), "poddisruptionbudgets", "poddisruptionbudget", true,
		func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		printers.PodDisruptionBudget())
	r.ShortNames = []string{"pdb"}
	r.Status = true
	r.RequireResourceVersion = true
	r.PrepareForCreate = func(obj runtime.Object) { stripV1beta1Label(obj.(*policyv1.PodDisruptionBudget), nil) }
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		stripV1beta1Label(obj.(*policyv1.PodDisruptionBudget), old.(*policyv1.PodDisruptionBudget))
		return nil
	}
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidatePodDisruptionBudget(obj.(*policyv1.PodDisruptionBudget))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePodDisruptionBudgetUpdate(obj.(*policyv1.PodDisruptionBudget), old.(*policyv1.PodDisruptionBudget))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidatePodDisruptionBudgetStatusUpdate(obj.(*policyv1.PodDisruptionBudget), old.(*policyv1.PodDisruptionBudget))
	}
	r.SpecChanged = func(obj, old runtime.Object) bool {
		return !equality.Semantic.DeepEqual(obj.(*policyv1.PodDisruptionBudget).Spec, old.(*policyv1.PodDisruptionBudget).Spec)
	}
	return r
}

// v1beta1EmptySelectorLabel is the label policy/v1beta1 used to tell an empty
// selector that matches nothing (its meaning there) from one that matches
// everything (its meaning in v1).
const v1beta1EmptySelectorLabel = "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match"

// stripV1beta1Label keeps a changed selector from mixing that label with the
// client's own requirements; the selector that is nothing but the label (the
// match-none selector as v1 writes it) stays.
func stripV1beta1Label(pdb, old *policyv1.PodDisruptionBudget) {
	s := pdb.Spec.Selector
	if s == nil || (old != nil && equality.Semantic.DeepEqual(old.Spec.Selector, s)) {
		return
	}
	matchNone := []metav1.LabelSelectorRequirement{{Key: v1beta1EmptySelectorLabel, Operator: metav1.LabelSelectorOpExists}}
	if len(s.MatchLabels) == 0 && equality.Semantic.DeepEqual(s.MatchExpressions, matchNone) {
		return
	}
	kept := s.MatchExpressions[:0]
	for _, e := range s.MatchExpressions {
		if e.Key != v1beta1EmptySelectorLabel {
			kept = append(kept, e)
		}
	}
	s.MatchExpressions = kept
}
