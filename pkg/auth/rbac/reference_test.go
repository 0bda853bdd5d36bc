package rbac

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// reference is upstream's RBAC algorithm without an index, for tests to
// compare with: list every ClusterRoleBinding, then every RoleBinding of the
// request's namespace; for each that names the user, look its role up by name
// and try its rules.
type reference struct {
	roles    map[string]*rbacv1.Role // namespace/name
	cRoles   map[string]*rbacv1.ClusterRole
	bindings map[string]map[string]*rbacv1.RoleBinding // by namespace, as upstream's lister indexes them
	cBinds   map[string]*rbacv1.ClusterRoleBinding
}

func (r *reference) set(obj any) {
	if r.roles == nil {
		r.roles, r.cRoles = map[string]*rbacv1.Role{}, map[string]*rbacv1.ClusterRole{}
		r.bindings, r.cBinds = map[string]map[string]*rbacv1.RoleBinding{}, map[string]*rbacv1.ClusterRoleBinding{}
	}
	switch o := obj.(type) {
	case *rbacv1.Role:
		r.roles[o.Namespace+"/"+o.Name] = o
	case *rbacv1.ClusterRole:
		r.cRoles[o.Name] = o
	case *rbacv1.RoleBinding:
		if r.bindings[o.Namespace] == nil {
			r.bindings[o.Namespace] = map[string]*rbacv1.RoleBinding{}
		}
		r.bindings[o.Namespace][o.Name] = o
	case *rbacv1.ClusterRoleBinding:
		r.cBinds[o.Name] = o
	}
}

func (r *reference) delete(obj any) {
	switch o := obj.(type) {
	case *rbacv1.Role:
		delete(r.roles, o.Namespace+"/"+o.Name)
	case *rbacv1.ClusterRole:
		delete(r.cRoles, o.Name)
	case *rbacv1.RoleBinding:
		delete(r.bindings[o.Namespace], o.Name)
	case *rbacv1.ClusterRoleBinding:
		delete(r.cBinds, o.Name)
	}
}

// visit calls f with the rules of each binding that names the user, in
// upstream's order (ClusterRoleBindings, then RoleBindings, each in the
// order a map gives), and collects the errors of references that do not
// resolve.
func (r *reference) visit(user string, groups []string, namespace string, f func([]rbacv1.PolicyRule) bool) []error {
	var errs []error
	try := func(ref rbacv1.RoleRef, ns string) bool {
		var rules []rbacv1.PolicyRule
		switch ref.Kind {
		case "Role":
			role, ok := r.roles[ns+"/"+ref.Name]
			if !ok {
				errs = append(errs, apierrors.NewNotFound(rbacv1.Resource("role"), ref.Name))
				return false
			}
			rules = role.Rules
		case "ClusterRole":
			role, ok := r.cRoles[ref.Name]
			if !ok {
				errs = append(errs, apierrors.NewNotFound(rbacv1.Resource("clusterrole"), ref.Name))
				return false
			}
			rules = role.Rules
		default:
			errs = append(errs, fmt.Errorf("unsupported role reference kind: %q", ref.Kind))
			return false
		}
		return f(rules)
	}
	for _, b := range r.cBinds {
		if appliesTo(user, groups, b.Subjects, "") && try(b.RoleRef, "") {
			return errs
		}
	}
	if namespace != "" {
		for _, b := range r.bindings[namespace] {
			if appliesTo(user, groups, b.Subjects, namespace) && try(b.RoleRef, namespace) {
				return errs
			}
		}
	}
	return errs
}

func (r *reference) authorize(a *Attributes) (bool, string) {
	allowed := false
	errs := r.visit(a.User, a.Groups, a.Namespace, func(rules []rbacv1.PolicyRule) bool {
		allowed = referenceRulesAllow(a, rules)
		return allowed
	})
	if allowed || len(errs) == 0 {
		return allowed, ""
	}
	slices.SortFunc(errs, func(x, y error) int { return strings.Compare(x.Error(), y.Error()) })
	return false, fmt.Sprintf("RBAC: %v", utilerrors.NewAggregate(errs))
}

func (r *reference) rulesFor(user string, groups []string, namespace string) ([]rbacv1.PolicyRule, error) {
	var all []rbacv1.PolicyRule
	errs := r.visit(user, groups, namespace, func(rules []rbacv1.PolicyRule) bool {
		all = append(all, rules...)
		return false
	})
	slices.SortFunc(errs, func(x, y error) int { return strings.Compare(x.Error(), y.Error()) })
	return all, utilerrors.NewAggregate(errs)
}

func appliesTo(user string, groups []string, subjects []rbacv1.Subject, namespace string) bool {
	for _, s := range subjects {
		switch s.Kind {
		case "User":
			if s.Name == user {
				return true
			}
		case "Group":
			if slices.Contains(groups, s.Name) {
				return true
			}
		case "ServiceAccount":
			ns := s.Namespace
			if ns == "" {
				ns = namespace
			}
			if ns != "" && user == "system:serviceaccount:"+ns+":"+s.Name {
				return true
			}
		}
	}
	return false
}

// referenceRulesAllow is upstream's rule evaluation, written plainly (the
// combined resource string, strings.HasPrefix) to check the allocation-free
// one against.
func referenceRulesAllow(a *Attributes, rules []rbacv1.PolicyRule) bool {
	in := func(set []string, s string, wildcard bool) bool {
		return slices.Contains(set, s) || (wildcard && slices.Contains(set, "*"))
	}
	for _, r := range rules {
		if !in(r.Verbs, a.Verb, true) {
			continue
		}
		if !a.ResourceRequest {
			for _, u := range r.NonResourceURLs {
				if u == "*" || u == a.Path || (strings.HasSuffix(u, "*") && strings.HasPrefix(a.Path, strings.TrimRight(u, "*"))) {
					return true
				}
			}
			continue
		}
		combined := a.Resource
		if a.Subresource != "" {
			combined += "/" + a.Subresource
		}
		resourceOK := false
		for _, res := range r.Resources {
			if res == "*" || res == combined || (a.Subresource != "" && res == "*/"+a.Subresource) {
				resourceOK = true
			}
		}
		if in(r.APIGroups, a.APIGroup, true) && resourceOK && (len(r.ResourceNames) == 0 || in(r.ResourceNames, a.Name, false)) {
			return true
		}
	}
	return false
}

// testRand is a seeded source, so a failure repeats.
type testRand struct{ r *rand.Rand }

func newRand(seed uint64) testRand { return testRand{rand.New(rand.NewPCG(seed, seed))} }

func (r testRand) intn(n int) int { return r.r.IntN(n) }

// ReferenceAuthorizer decides with the reference algorithm over objs, for
// the benchmarks (package rbac_test) to compare the index with.
func ReferenceAuthorizer(objs []any) func(*Attributes) bool {
	r := &reference{}
	for _, o := range objs {
		r.set(o)
	}
	return func(a *Attributes) bool {
		allowed, _ := r.authorize(a)
		return allowed
	}
}
