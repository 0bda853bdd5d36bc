package policy

import (
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

var (
	invalid       = validationtest.Invalid
	expectErrs    = validationtest.Expect
	expectMessage = validationtest.ExpectMessage
)

// pdb is what `kubectl create pdb web --selector=app=web --min-available=1`
// sends, changed by mutate.
func pdb(mutate func(*policyv1.PodDisruptionBudget)) *policyv1.PodDisruptionBudget {
	p := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			MinAvailable: ptr.To(intstr.FromInt32(1)),
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// TestValidatePodDisruptionBudgetAsUpstream checks the whole message kubectl
// prints after `The PodDisruptionBudget "web" is invalid: ` against
// upstream's (ValidatePodDisruptionBudget, then the generic metadata check).
func TestValidatePodDisruptionBudgetAsUpstream(t *testing.T) {
	expectErrs(t, ValidatePodDisruptionBudget(pdb(nil)))
	expectErrs(t, ValidatePodDisruptionBudget(pdb(func(p *policyv1.PodDisruptionBudget) {
		p.Spec.MinAvailable, p.Spec.MaxUnavailable = nil, ptr.To(intstr.FromString("25%"))
		p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
		p.Spec.Selector = &metav1.LabelSelector{} // every pod of the namespace
	})))
	for _, tc := range []struct {
		name   string
		mutate func(*policyv1.PodDisruptionBudget)
		want   string
	}{
		{"both bounds", func(p *policyv1.PodDisruptionBudget) { p.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(1)) },
			`spec: Invalid value: {"MinAvailable":1,"Selector":{"matchLabels":{"app":"web"}},"MaxUnavailable":1,"UnhealthyPodEvictionPolicy":null}: minAvailable and maxUnavailable cannot be both set`},
		{"over 100%", func(p *policyv1.PodDisruptionBudget) { p.Spec.MinAvailable = ptr.To(intstr.FromString("150%")) },
			`spec.minAvailable: Invalid value: "150%": must not be greater than 100%`},
		{"negative", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.MinAvailable, p.Spec.MaxUnavailable = nil, ptr.To(intstr.FromInt32(-1))
		}, `spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0`},
		{"neither count nor percent", func(p *policyv1.PodDisruptionBudget) { p.Spec.MinAvailable = ptr.To(intstr.FromString("half")) },
			`spec.minAvailable: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`},
		{"eviction policy", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.UnhealthyPodEvictionPolicyType("Never"))
		}, `spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"`},
		{"selector", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
		}, `spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator`},
		{"a name that is no path segment", func(p *policyv1.PodDisruptionBudget) { p.Name = "web/front" },
			`metadata.name: Invalid value: "web/front": may not contain '/'`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectMessage(t, ValidatePodDisruptionBudget(pdb(tc.mutate)), tc.want) })
	}
	// Upstream's policy group checks names only as path segments, and only
	// once the spec is valid.
	expectErrs(t, ValidatePodDisruptionBudget(pdb(func(p *policyv1.PodDisruptionBudget) { p.Name = "Web_Front" })))
	expectErrs(t, ValidatePodDisruptionBudget(pdb(func(p *policyv1.PodDisruptionBudget) {
		p.Name, p.Spec.MinAvailable = "web/front", ptr.To(intstr.FromInt32(-1))
	})), invalid("spec.minAvailable", "must be greater than or equal to 0"))
}

func TestValidatePodDisruptionBudgetUpdate(t *testing.T) {
	old := pdb(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	p := old.DeepCopy()
	p.Spec.MinAvailable = ptr.To(intstr.FromString("50%"))
	p.Spec.Selector.MatchLabels["tier"] = "front"
	expectErrs(t, ValidatePodDisruptionBudgetUpdate(p, old))
	p.Namespace = "other"
	p.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(1))
	expectErrs(t, ValidatePodDisruptionBudgetUpdate(p, old),
		invalid("metadata.namespace", "field is immutable"), invalid("spec", "minAvailable and maxUnavailable cannot be both set"))

	// A selector an older server let through stays updatable.
	old.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"not a value"}}}
	p = old.DeepCopy()
	p.Labels = map[string]string{"team": "a"}
	expectErrs(t, ValidatePodDisruptionBudgetUpdate(p, old))
	expectErrs(t, ValidatePodDisruptionBudget(p), invalid("spec.selector.matchExpressions[0].values[0]", "a valid label must be"))

	s := pdb(nil)
	s.ObjectMeta = old.ObjectMeta
	s.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: -1, ExpectedPods: 2, CurrentHealthy: 2, DesiredHealthy: 1,
		Conditions: []metav1.Condition{{Type: "DisruptionAllowed", Status: "Maybe", Reason: "SufficientPods", LastTransitionTime: metav1.Now()}}}
	expectErrs(t, ValidatePodDisruptionBudgetStatusUpdate(s, old),
		invalid("status.disruptionsAllowed", "must be greater than or equal to 0"),
		validationtest.NotSupported("status.conditions[0].status", `supported values: "False", "True", "Unknown"`))
}
