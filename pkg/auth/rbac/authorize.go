package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Decision is RBAC's answer: allowed, or no opinion. Its reason is worded
// only when asked for, so that deciding allocates nothing.
type Decision struct {
	Allowed bool

	by      *binding // the binding that allowed
	subject int      // which of its subjects is the user
	// broken are the bindings of the user whose role could not be found,
	// which upstream reports with a refusal.
	broken []*binding
}

// Reason is upstream's: on allow, the binding, role and subject that
// allowed ("RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to
// Group "z""); on no opinion, the role references of the user's bindings that
// could not be resolved ("RBAC: clusterrole.rbac.authorization.k8s.io "y" not
// found"), or "" when there were none.
func (d Decision) Reason() string {
	if d.Allowed {
		return "RBAC: allowed by " + d.by.describe(d.subject)
	}
	if len(d.broken) == 0 {
		return ""
	}
	errs := make([]error, len(d.broken))
	for i, b := range d.broken {
		errs[i] = b.resolveError()
	}
	slices.SortFunc(errs, func(x, y error) int { return strings.Compare(x.Error(), y.Error()) })
	return fmt.Sprintf("RBAC: %v", utilerrors.NewAggregate(errs))
}

// Authorize decides a request: allowed when a rule of a role bound to the
// user, one of their groups or their service account allows it, through a
// ClusterRoleBinding (anywhere) or a RoleBinding in the request's namespace.
func (a *Authorizer) Authorize(attrs *Attributes) Decision {
	a.mu.RLock()
	defer a.mu.RUnlock()

	var buf [8]*subjectBindings
	mine := buf[:0]
	if sb := a.users[attrs.User]; sb != nil {
		mine = append(mine, sb)
	}
	for _, g := range attrs.Groups {
		if sb := a.groups[g]; sb != nil {
			mine = append(mine, sb)
		}
	}

	var d Decision
	check := func(bindings []*binding) bool {
		for _, b := range bindings {
			switch {
			case b.role == nil || !b.role.exists:
				d.broken = append(d.broken, b)
			case RulesAllow(attrs, b.role.rules):
				d = Decision{Allowed: true, by: b, subject: b.subjectOf(attrs.User, attrs.Groups)}
				return true
			}
		}
		return false
	}
	for _, sb := range mine {
		if check(sb.cluster) {
			return d
		}
	}
	if attrs.Namespace != "" {
		for _, sb := range mine {
			if check(sb.namespaced[attrs.Namespace]) {
				return d
			}
		}
	}
	return d
}

// RulesFor returns the rules a user holds in namespace (only those of
// ClusterRoleBindings when namespace is ""), each binding's once, and an
// error naming the role references that could not be resolved. The rules are
// all there are even with an error: rules only grant.
func (a *Authorizer) RulesFor(user string, groups []string, namespace string) ([]rbacv1.PolicyRule, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()

	var cluster, local []*binding
	collect := func(sb *subjectBindings) {
		if sb == nil {
			return
		}
		cluster = append(cluster, sb.cluster...)
		if namespace != "" {
			local = append(local, sb.namespaced[namespace]...)
		}
	}
	collect(a.users[user])
	for _, g := range groups {
		collect(a.groups[g])
	}

	var rules []rbacv1.PolicyRule
	var errs []error
	seen := map[*binding]bool{}
	for _, list := range [][]*binding{cluster, local} {
		slices.SortFunc(list, func(x, y *binding) int { return strings.Compare(x.key.name, y.key.name) })
		for _, b := range list {
			if seen[b] {
				continue
			}
			seen[b] = true
			if b.role == nil || !b.role.exists {
				errs = append(errs, b.resolveError())
				continue
			}
			rules = append(rules, b.role.rules...)
		}
	}
	slices.SortFunc(errs, func(x, y error) int { return strings.Compare(x.Error(), y.Error()) })
	return rules, utilerrors.NewAggregate(errs)
}

// RoleRefRules returns the rules of the role a binding in namespace ("" for a
// ClusterRoleBinding) refers to, as a binding's escalation check needs them,
// or upstream's error when there is no such role.
func (a *Authorizer) RoleRefRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	k, ok := refKey(ref, namespace)
	if r := a.roles[k]; ok && r != nil && r.exists {
		return r.rules, nil
	}
	return nil, (&binding{roleRef: ref}).resolveError()
}

// subjectOf returns the index of the first of b's subjects that is the user,
// as upstream names it in its reason.
func (b *binding) subjectOf(user string, groups []string) int {
	for i, s := range b.subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			if s.Name == user {
				return i
			}
		case rbacv1.GroupKind:
			if slices.Contains(groups, s.Name) {
				return i
			}
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = b.key.namespace
			}
			if ns != "" && isServiceAccount(user, ns, s.Name) {
				return i
			}
		}
	}
	return 0
}

// isServiceAccount reports whether user is system:serviceaccount:NS:NAME,
// without building that name.
func isServiceAccount(user, namespace, name string) bool {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	return ok && joined(rest, namespace, ':', name)
}

// describe words a binding as upstream's reasons do.
func (b *binding) describe(subject int) string {
	kind, name := "ClusterRoleBinding", b.key.name
	if b.key.namespace != "" {
		kind, name = "RoleBinding", b.key.name+"/"+b.key.namespace
	}
	s := b.subjects[subject]
	who := fmt.Sprintf("%s %q", s.Kind, s.Name)
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = b.key.namespace
		}
		who = fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q of %s %q to %s", kind, name, b.roleRef.Kind, b.roleRef.Name, who)
}

// resolveError is upstream's error for a role reference that does not
// resolve: the lister's NotFound, or an unsupported kind.
func (b *binding) resolveError() error {
	switch b.roleRef.Kind {
	case "Role":
		return apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: "role"}, b.roleRef.Name)
	case "ClusterRole":
		return apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterrole"}, b.roleRef.Name)
	}
	return fmt.Errorf("unsupported role reference kind: %q", b.roleRef.Kind)
}
