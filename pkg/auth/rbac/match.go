package rbac

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Attributes are what a decision looks at: who asks, and for what. They are
// upstream's authorizer.Attributes as the RBAC authorizer reads them.
type Attributes struct {
	User   string
	Groups []string

	// Verb is the Kubernetes verb (get, list, watch, create, update, patch,
	// delete, deletecollection, or a special one such as bind, escalate,
	// impersonate, approve, use) for a resource request, and the lower-case
	// HTTP method for a path.
	Verb string

	// A resource request names a group, resource and maybe a subresource,
	// namespace and name; any other request is for Path.
	ResourceRequest bool
	APIGroup        string
	Resource        string
	Subresource     string
	Namespace       string
	Name            string
	Path            string
}

// RulesAllow reports whether any of rules allows the request.
func RulesAllow(a *Attributes, rules []rbacv1.PolicyRule) bool {
	for i := range rules {
		if RuleAllows(a, &rules[i]) {
			return true
		}
	}
	return false
}

// RuleAllows reports whether rule allows the request, as upstream's
// RuleAllows: verbs and API groups match exactly or by "*"; resources match
// exactly (a subresource request by "resource/subresource"), by "*", or by
// "*/subresource"; a rule with resourceNames matches only a request for one
// of those names (so never a list or create, which name nothing); paths match
// exactly, by "*", or by a prefix that ends in "*".
func RuleAllows(a *Attributes, rule *rbacv1.PolicyRule) bool {
	if !has(rule.Verbs, a.Verb, rbacv1.VerbAll) {
		return false
	}
	if !a.ResourceRequest {
		return urlMatches(rule.NonResourceURLs, a.Path)
	}
	return has(rule.APIGroups, a.APIGroup, rbacv1.APIGroupAll) &&
		resourceMatches(rule.Resources, a.Resource, a.Subresource) &&
		(len(rule.ResourceNames) == 0 || has(rule.ResourceNames, a.Name, ""))
}

// has reports whether set holds want, or all (when all is not "").
func has(set []string, want, all string) bool {
	for _, s := range set {
		if s == want || (all != "" && s == all) {
			return true
		}
	}
	return false
}

// resourceMatches matches "resource" or "resource/subresource" without
// building the combined string: a decision must not allocate.
func resourceMatches(rules []string, resource, subresource string) bool {
	for _, r := range rules {
		switch {
		case r == rbacv1.ResourceAll:
			return true
		case subresource == "":
			if r == resource {
				return true
			}
		case joined(r, resource, '/', subresource), joined(r, "*", '/', subresource):
			return true
		}
	}
	return false
}

// joined reports whether s is a + string(sep) + b.
func joined(s, a string, sep byte, b string) bool {
	return len(s) == len(a)+1+len(b) && s[len(a)] == sep && s[:len(a)] == a && s[len(a)+1:] == b
}

func urlMatches(rules []string, path string) bool {
	for _, u := range rules {
		switch {
		case u == rbacv1.NonResourceAll, u == path:
			return true
		case strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")):
			return true
		}
	}
	return false
}
