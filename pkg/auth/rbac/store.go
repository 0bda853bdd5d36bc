package rbac

import (
	"fmt"
	"slices"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/tools/cache"
)

// Authorizer holds the cluster's RBAC objects, indexed for decisions. Feed
// it every Role, ClusterRole, RoleBinding and ClusterRoleBinding with Add,
// Update and Delete (an informer's handler functions fit: see Handler), or
// all at once with Replace. It is safe for concurrent use: decisions share a
// read lock, changes take the write lock.
//
// The index maps each subject (a user name, a group, or a service account as
// the user name it authenticates as) to the bindings that name it: the
// ClusterRoleBindings, and the RoleBindings by namespace. Each binding points
// at a slot for the role it refers to, shared by every binding of that role
// and filled or emptied as the role itself is added or deleted, so a decision
// neither lists bindings nor looks roles up by name.
type Authorizer struct {
	mu       sync.RWMutex
	roles    map[roleKey]*role
	bindings map[bindingKey]*binding
	users    map[string]*subjectBindings
	groups   map[string]*subjectBindings
}

// New returns an Authorizer that knows no objects yet, and so allows nothing.
func New() *Authorizer {
	return &Authorizer{
		roles:    map[roleKey]*role{},
		bindings: map[bindingKey]*binding{},
		users:    map[string]*subjectBindings{},
		groups:   map[string]*subjectBindings{},
	}
}

// roleKey names a Role (kind "Role", its namespace) or a ClusterRole (kind
// "ClusterRole", no namespace), as a RoleRef resolves.
type roleKey struct {
	kind, namespace, name string
}

// role is the slot bindings resolve a role reference to. It lives while the
// role exists or some binding refers to it.
type role struct {
	rules  []rbacv1.PolicyRule // the role's, shared with its object, never modified
	exists bool
	refs   int // bindings pointing here
}

// bindingKey names a RoleBinding (its namespace) or a ClusterRoleBinding (no
// namespace).
type bindingKey struct {
	namespace, name string
}

// binding is one RoleBinding or ClusterRoleBinding. Once indexed it is never
// modified (an update replaces it), so a Decision may keep pointing at it.
type binding struct {
	key      bindingKey
	roleRef  rbacv1.RoleRef
	subjects []rbacv1.Subject
	role     *role // nil when the reference is to a kind RBAC does not know
	users    []string
	groups   []string
}

// subjectBindings are the bindings that name one subject.
type subjectBindings struct {
	cluster    []*binding
	namespaced map[string][]*binding
}

// Handler returns informer event handlers that feed a: register it on the
// informers of all four kinds. Objects of other types are ignored.
func (a *Authorizer) Handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { _ = a.Add(obj) },
		UpdateFunc: func(_, obj any) { _ = a.Update(obj) },
		DeleteFunc: func(obj any) { _ = a.Delete(obj) },
	}
}

// Add adds or replaces a *rbacv1.Role, ClusterRole, RoleBinding or
// ClusterRoleBinding. The Authorizer keeps the object: the caller must not
// modify it afterwards (informers' objects are never modified).
func (a *Authorizer) Add(obj any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.set(obj)
}

// Update is Add: an object replaces the one of its kind, namespace and name.
func (a *Authorizer) Update(obj any) error { return a.Add(obj) }

// Delete removes a Role, ClusterRole, RoleBinding or ClusterRoleBinding by
// its kind, namespace and name. It also takes an informer's tombstone.
func (a *Authorizer) Delete(obj any) error {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch o := obj.(type) {
	case *rbacv1.Role:
		a.deleteRole(roleKey{"Role", o.Namespace, o.Name})
	case *rbacv1.ClusterRole:
		a.deleteRole(roleKey{"ClusterRole", "", o.Name})
	case *rbacv1.RoleBinding:
		a.deleteBinding(bindingKey{o.Namespace, o.Name})
	case *rbacv1.ClusterRoleBinding:
		a.deleteBinding(bindingKey{"", o.Name})
	default:
		return fmt.Errorf("rbac: cannot delete a %T", obj)
	}
	return nil
}

// Replace makes objs the whole content, as after a (re)list. Decisions see
// either the old content or the new, never a mix.
func (a *Authorizer) Replace(objs []any) error {
	fresh := New()
	for _, obj := range objs {
		if err := fresh.set(obj); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.roles, a.bindings, a.users, a.groups = fresh.roles, fresh.bindings, fresh.users, fresh.groups
	return nil
}

func (a *Authorizer) set(obj any) error {
	switch o := obj.(type) {
	case *rbacv1.Role:
		a.setRole(roleKey{"Role", o.Namespace, o.Name}, o.Rules)
	case *rbacv1.ClusterRole:
		a.setRole(roleKey{"ClusterRole", "", o.Name}, o.Rules)
	case *rbacv1.RoleBinding:
		a.setBinding(bindingKey{o.Namespace, o.Name}, o.RoleRef, o.Subjects)
	case *rbacv1.ClusterRoleBinding:
		a.setBinding(bindingKey{"", o.Name}, o.RoleRef, o.Subjects)
	default:
		return fmt.Errorf("rbac: cannot index a %T", obj)
	}
	return nil
}

func (a *Authorizer) setRole(k roleKey, rules []rbacv1.PolicyRule) {
	r := a.roles[k]
	if r == nil {
		r = &role{}
		a.roles[k] = r
	}
	r.rules, r.exists = rules, true
}

func (a *Authorizer) deleteRole(k roleKey) {
	r := a.roles[k]
	if r == nil {
		return
	}
	r.rules, r.exists = nil, false
	if r.refs == 0 {
		delete(a.roles, k)
	}
}

// setBinding indexes a binding under each subject it names. A ServiceAccount
// is the user it authenticates as, system:serviceaccount:NS:NAME (a
// RoleBinding's subject without a namespace is in the binding's; a
// ClusterRoleBinding's matches no one). Subjects of other kinds match no one.
func (a *Authorizer) setBinding(k bindingKey, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
	a.deleteBinding(k)
	b := &binding{key: k, roleRef: ref, subjects: subjects}
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			b.users = appendNew(b.users, s.Name)
		case rbacv1.GroupKind:
			b.groups = appendNew(b.groups, s.Name)
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = k.namespace
			}
			if ns != "" {
				b.users = appendNew(b.users, serviceAccountUser(ns, s.Name))
			}
		}
	}
	if rk, ok := refKey(ref, k.namespace); ok {
		r := a.roles[rk]
		if r == nil {
			r = &role{}
			a.roles[rk] = r
		}
		r.refs++
		b.role = r
	}
	for _, u := range b.users {
		index(a.users, u).add(b)
	}
	for _, g := range b.groups {
		index(a.groups, g).add(b)
	}
	a.bindings[k] = b
}

func (a *Authorizer) deleteBinding(k bindingKey) {
	b := a.bindings[k]
	if b == nil {
		return
	}
	delete(a.bindings, k)
	for _, u := range b.users {
		unindex(a.users, u, b)
	}
	for _, g := range b.groups {
		unindex(a.groups, g, b)
	}
	if b.role != nil {
		b.role.refs--
		if b.role.refs == 0 && !b.role.exists {
			rk, _ := refKey(b.roleRef, k.namespace)
			delete(a.roles, rk)
		}
	}
}

// refKey is the role a binding in namespace ("" for a ClusterRoleBinding)
// refers to. A ClusterRoleBinding's reference to a Role names one that can
// never exist, as upstream's lookup of it in no namespace finds nothing.
func refKey(ref rbacv1.RoleRef, namespace string) (roleKey, bool) {
	switch ref.Kind {
	case "Role":
		return roleKey{"Role", namespace, ref.Name}, true
	case "ClusterRole":
		return roleKey{"ClusterRole", "", ref.Name}, true
	}
	return roleKey{}, false
}

func serviceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func index(m map[string]*subjectBindings, name string) *subjectBindings {
	sb := m[name]
	if sb == nil {
		sb = &subjectBindings{}
		m[name] = sb
	}
	return sb
}

func (sb *subjectBindings) add(b *binding) {
	if b.key.namespace == "" {
		sb.cluster = append(sb.cluster, b)
		return
	}
	if sb.namespaced == nil {
		sb.namespaced = map[string][]*binding{}
	}
	sb.namespaced[b.key.namespace] = append(sb.namespaced[b.key.namespace], b)
}

// unindex removes b from name's bindings, keeping the others in the order
// they came, and forgets name once it has none.
func unindex(m map[string]*subjectBindings, name string, b *binding) {
	sb := m[name]
	if sb == nil {
		return
	}
	if ns := b.key.namespace; ns == "" {
		sb.cluster = remove(sb.cluster, b)
	} else if list := remove(sb.namespaced[ns], b); len(list) == 0 {
		delete(sb.namespaced, ns)
	} else {
		sb.namespaced[ns] = list
	}
	if len(sb.cluster) == 0 && len(sb.namespaced) == 0 {
		delete(m, name)
	}
}

func remove(list []*binding, b *binding) []*binding {
	if i := slices.Index(list, b); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	return list
}
