package policy

import (
	"context"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func TestPodDisruptionBudgets(t *testing.T) {
	r := podDisruptionBudgets(kind.Options{})
	if !r.RequireResourceVersion || !r.Status || len(r.ShortNames) != 1 || r.ShortNames[0] != "pdb" {
		t.Errorf("resourceVersion required %v, status %v, short names %v", r.RequireResourceVersion, r.Status, r.ShortNames)
	}

	// The label policy/v1beta1 used for an empty selector never mixes with
	// the client's requirements, but is the whole of v1's match-none selector.
	marker := metav1.LabelSelectorRequirement{Key: v1beta1EmptySelectorLabel, Operator: metav1.LabelSelectorOpExists}
	mixed := &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{
		MatchLabels:      map[string]string{"app": "web"},
		MatchExpressions: []metav1.LabelSelectorRequirement{marker, {Key: "tier", Operator: metav1.LabelSelectorOpExists}},
	}}}
	r.PrepareForCreate(mixed)
	if got := metav1.FormatLabelSelector(mixed.Spec.Selector); got != "app=web,tier" {
		t.Errorf("selector %s", got)
	}
	none := &policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{marker},
	}}}
	r.PrepareForCreate(none)
	if len(none.Spec.Selector.MatchExpressions) != 1 {
		t.Errorf("match-none selector stripped: %v", none.Spec.Selector)
	}
	// An update that leaves the selector as stored leaves it alone.
	stored := mixed.DeepCopy()
	stored.Spec.Selector.MatchExpressions = append(stored.Spec.Selector.MatchExpressions, marker)
	update := stored.DeepCopy()
	if err := r.PrepareForUpdate(context.Background(), nil, update, stored); err != nil || len(update.Spec.Selector.MatchExpressions) != 2 {
		t.Errorf("unchanged selector stripped: %v %v", update.Spec.Selector, err)
	}
}
