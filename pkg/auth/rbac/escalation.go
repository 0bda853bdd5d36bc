package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// Covers reports whether owner's rules grant everything requested's do, and
// which of requested's rules, broken down to one verb, group, resource and
// name (or one verb and path) each, they do not. It is upstream's own
// (k8s.io/component-helpers/auth/rbac/validation): a rule with resourceNames
// covers only those names, "*/sub" covers that subresource of every resource,
// and a path ending in "*" covers the paths it prefixes.
func Covers(owner, requested []rbacv1.PolicyRule) (bool, []rbacv1.PolicyRule) {
	return validation.Covers(owner, requested)
}

// ConfirmNoEscalation returns nil when the user already holds, in namespace
// ("" for cluster-wide), every permission of rules; otherwise upstream's
// error listing the missing ones. It is the check the RBAC API makes before
// it lets a user write a role or binding granting rules, unless the user may
// "escalate" the role or "bind" the binding's role.
func (a *Authorizer) ConfirmNoEscalation(user string, groups []string, namespace string, rules []rbacv1.PolicyRule) error {
	owner, resolveErr := a.RulesFor(user, groups, namespace)
	covered, missing := Covers(owner, rules)
	if covered {
		return nil
	}
	var lines []string
	for _, r := range compactRules(missing) {
		if s := CompactString(r); !slices.Contains(lines, s) {
			lines = append(lines, s)
		}
	}
	slices.Sort(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", user, groups, strings.Join(lines, "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", []error{resolveErr})
	}
	return fmt.Errorf("%s", msg)
}

// CompactString words a rule as upstream's escalation errors do:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}.
func CompactString(r rbacv1.PolicyRule) string {
	var parts []string
	for _, f := range []struct {
		name   string
		values []string
	}{
		{"APIGroups", r.APIGroups}, {"Resources", r.Resources}, {"NonResourceURLs", r.NonResourceURLs},
		{"ResourceNames", r.ResourceNames}, {"Verbs", r.Verbs},
	} {
		if len(f.values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", f.name, f.values))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// compactRules merges the verbs of rules that name one group, one resource
// and at most one name and nothing else, as upstream compacts the broken-down
// rules Covers leaves uncovered before it words them.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type simple struct {
		group, resource string
		named           bool
		name            string
	}
	var out []rbacv1.PolicyRule
	merged := map[simple]int{} // index in out
	for _, r := range rules {
		if len(r.APIGroups) != 1 || len(r.Resources) != 1 || len(r.ResourceNames) > 1 || len(r.NonResourceURLs) > 0 {
			out = append(out, r)
			continue
		}
		k := simple{group: r.APIGroups[0], resource: r.Resources[0]}
		if len(r.ResourceNames) == 1 {
			k.named, k.name = true, r.ResourceNames[0]
		}
		if i, ok := merged[k]; ok {
			out[i].Verbs = append(slices.Clip(out[i].Verbs), r.Verbs...)
			continue
		}
		merged[k] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}
