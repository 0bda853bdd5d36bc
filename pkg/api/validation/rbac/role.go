package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var (
	rulesPath     = field.NewPath("rules")
	selectorsPath = field.NewPath("aggregationRule", "clusterRoleSelectors")
)

// ValidateRole validates a Role: its rules may not name non-resource URLs,
// which no namespace holds.
func ValidateRole(role *rbacv1.Role) field.ErrorList {
	f := validateRole(role, true)
	return f.list()
}

// ValidateRoleUpdate validates an update of a Role.
func ValidateRoleUpdate(role, old *rbacv1.Role) field.ErrorList {
	f := validateRole(role, !equality.Semantic.DeepEqual(role.Rules, old.Rules))
	f.add(validation.ValidateObjectMetaUpdate(&role.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return f.list()
}

func validateRole(role *rbacv1.Role, rulesDeclarative bool) faults {
	var f faults
	f.add(validation.ValidateObjectMeta(&role.ObjectMeta, true, ValidateRBACName, metadataPath)...)
	f.merge(validateRules(role.Rules, true, rulesDeclarative))
	return f
}

// ValidateClusterRole validates a ClusterRole: its rules, and its
// aggregationRule, which needs a valid selector or more.
func ValidateClusterRole(role *rbacv1.ClusterRole) field.ErrorList {
	f := validateClusterRole(role, false, true)
	return f.list()
}

// ValidateClusterRoleUpdate validates an update of a ClusterRole. A selector
// stored with a label value no longer allowed may keep such values.
func ValidateClusterRoleUpdate(role, old *rbacv1.ClusterRole) field.ErrorList {
	f := validateClusterRole(role, hasInvalidLabelValue(old), !equality.Semantic.DeepEqual(role.Rules, old.Rules))
	f.add(validation.ValidateObjectMetaUpdate(&role.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return f.list()
}

func validateClusterRole(role *rbacv1.ClusterRole, allowInvalidLabelValue, rulesDeclarative bool) faults {
	var f faults
	f.add(validation.ValidateObjectMeta(&role.ObjectMeta, false, ValidateRBACName, metadataPath)...)
	f.merge(validateRules(role.Rules, false, rulesDeclarative))
	if role.AggregationRule == nil {
		return f
	}
	if len(role.AggregationRule.ClusterRoleSelectors) == 0 {
		f.add(field.Required(selectorsPath, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
	}
	opts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: allowInvalidLabelValue}
	for i := range role.AggregationRule.ClusterRoleSelectors {
		sel := &role.AggregationRule.ClusterRoleSelectors[i]
		fldPath := selectorsPath.Index(i)
		f.add(metav1validation.ValidateLabelSelector(sel, opts, fldPath)...)
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			// Upstream shows the selector it failed to build: none.
			f.add(field.Invalid(fldPath, nil, "invalid label selector."))
		}
	}
	return f
}

// hasInvalidLabelValue reports whether a stored ClusterRole selects by a
// label value that validation now refuses.
func hasInvalidLabelValue(role *rbacv1.ClusterRole) bool {
	if role.AggregationRule == nil {
		return false
	}
	for i := range role.AggregationRule.ClusterRoleSelectors {
		if len(metav1validation.ValidateLabelSelector(&role.AggregationRule.ClusterRoleSelectors[i],
			metav1validation.LabelSelectorValidationOptions{}, nil)) > 0 {
			return true
		}
	}
	return false
}

func validateRules(rules []rbacv1.PolicyRule, namespaced, declarative bool) faults {
	var f faults
	for i := range rules {
		f.merge(validatePolicyRule(&rules[i], namespaced, rulesPath.Index(i), declarative))
	}
	return f
}

// validatePolicyRule validates one rule of a role (namespaced) or cluster
// role: it needs verbs, and either non-resource URLs (cluster roles only)
// or API groups and resources, never both.
func validatePolicyRule(rule *rbacv1.PolicyRule, namespaced bool, fldPath *field.Path, declarative bool) faults {
	var f faults
	if len(rule.Verbs) == 0 {
		f.required(fldPath.Child("verbs"), "verbs must contain at least one value", declarative)
	}
	if len(rule.NonResourceURLs) > 0 {
		urlsPath := fldPath.Child("nonResourceURLs")
		if namespaced {
			f.add(field.Invalid(urlsPath, rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
			f.add(field.Invalid(urlsPath, rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return f
	}
	if len(rule.APIGroups) == 0 {
		f.add(field.Required(fldPath.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(rule.Resources) == 0 {
		f.add(field.Required(fldPath.Child("resources"), "resource rules must supply at least one resource"))
	}
	return f
}
