package rbac

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// list splits a comma-separated list. "" is no list; a pair of single
// quotes is the list of one empty string (the legacy API group).
func list(s string) []string {
	switch s {
	case "":
		return nil
	case "''":
		return []string{""}
	}
	return strings.Split(s, ",")
}

// rule is a resource rule: rule("get,list", "”", "pods", "name-a").
func rule(verbs, groups, resources string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: list(verbs), APIGroups: list(groups), Resources: list(resources), ResourceNames: names}
}

// urlRule is a non-resource rule.
func urlRule(verbs, urls string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: list(verbs), NonResourceURLs: list(urls)}
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func nsRole(ns, name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

// subjects reads "User:alice", "Group:devs", "ServiceAccount:ns/name" or
// "ServiceAccount:name" (no namespace).
func subjects(specs ...string) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, spec := range specs {
		kind, name, _ := strings.Cut(spec, ":")
		s := rbacv1.Subject{Kind: kind, Name: name, APIGroup: rbacv1.GroupName}
		if kind == rbacv1.ServiceAccountKind {
			s.APIGroup = ""
			if ns, n, ok := strings.Cut(name, "/"); ok {
				s.Namespace, s.Name = ns, n
			}
		}
		out = append(out, s)
	}
	return out
}

// ref reads "ClusterRole:name" or "Role:name".
func ref(spec string) rbacv1.RoleRef {
	kind, name, _ := strings.Cut(spec, ":")
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}
}

func clusterBinding(name, roleRef string, subs ...string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: ref(roleRef), Subjects: subjects(subs...)}
}

func nsBinding(ns, name, roleRef string, subs ...string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, RoleRef: ref(roleRef), Subjects: subjects(subs...)}
}

// res is a resource request: res("alice", "get", "", "pods", "", "ns1", "name").
func res(user, verb, group, resource, subresource, ns, name string, groups ...string) *Attributes {
	return &Attributes{User: user, Groups: groups, Verb: verb, ResourceRequest: true,
		APIGroup: group, Resource: resource, Subresource: subresource, Namespace: ns, Name: name}
}

// path is a non-resource request.
func path(user, verb, p string, groups ...string) *Attributes {
	return &Attributes{User: user, Groups: groups, Verb: verb, Path: p}
}

func authorizerWith(objs ...any) *Authorizer {
	a := New()
	for _, o := range objs {
		if err := a.Add(o); err != nil {
			panic(err)
		}
	}
	return a
}
