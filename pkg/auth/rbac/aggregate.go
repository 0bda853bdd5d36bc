package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// AggregateRules returns the rules an aggregated ClusterRole (admin, edit,
// view, ...) must hold, as upstream's clusterrole-aggregation controller
// computes them: for each of its selectors in order, the rules of the other
// ClusterRoles it selects, by name, each distinct rule once. It reports false
// for a role without an aggregationRule, whose rules are its own. A selector
// that does not parse is an error, as upstream's controller stops on it.
func AggregateRules(aggregated *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) ([]rbacv1.PolicyRule, bool, error) {
	if aggregated.AggregationRule == nil {
		return nil, false, nil
	}
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(x, y *rbacv1.ClusterRole) int { return strings.Compare(x.Name, y.Name) })
	rules := []rbacv1.PolicyRule{}
	for i := range aggregated.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&aggregated.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			return nil, true, err
		}
		for _, cr := range sorted {
			if cr.Name == aggregated.Name || !sel.Matches(labels.Set(cr.Labels)) {
				continue
			}
			for _, r := range cr.Rules {
				if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(have, r) }) {
					rules = append(rules, r)
				}
			}
		}
	}
	return rules, true, nil
}
