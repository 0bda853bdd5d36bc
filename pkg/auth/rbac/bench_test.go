package rbac_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/auth/rbac"
	"github.com/skiffhq/skiff/pkg/auth/rbac/bootstrap"
)

// benchCluster is a cluster of 100 namespaces: upstream's bootstrap policy
// (its 73 ClusterRoles, aggregated, its 54 ClusterRoleBindings and its 7
// RoleBindings) plus 46 more ClusterRoleBindings (100 in all), and in each
// namespace 3 Roles and 10 RoleBindings (1,000) of admin, edit, view or those
// Roles, each to 2 or 3 of 500 users, 50 groups and the namespace's service
// accounts. alice is in the groups team-3, team-7 and system:authenticated.
func benchCluster() []any {
	rnd := rand.New(rand.NewPCG(42, 42))
	p := bootstrap.Default()
	var all []*rbacv1.ClusterRole
	for i := range p.ClusterRoles {
		all = append(all, &p.ClusterRoles[i])
	}
	for changed := true; changed; {
		changed = false
		for _, r := range all {
			if rules, ok, _ := rbac.AggregateRules(r, all); ok && !equality.Semantic.DeepEqual(rules, r.Rules) {
				r.Rules, changed = rules, true
			}
		}
	}
	var objs []any
	for _, r := range all {
		objs = append(objs, r)
	}
	for i := range p.ClusterRoleBindings {
		objs = append(objs, &p.ClusterRoleBindings[i])
	}
	for i := range p.Roles {
		objs = append(objs, &p.Roles[i])
	}
	for i := range p.RoleBindings {
		objs = append(objs, &p.RoleBindings[i])
	}

	subject := func(ns string) rbacv1.Subject {
		switch rnd.IntN(3) {
		case 0:
			return rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("user-%d", rnd.IntN(500))}
		case 1:
			return rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("team-%d", rnd.IntN(50))}
		}
		return rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: fmt.Sprintf("sa-%d", rnd.IntN(5))}
	}
	subjects := func(ns string) []rbacv1.Subject {
		s := []rbacv1.Subject{subject(ns), subject(ns)}
		if rnd.IntN(2) == 0 {
			s = append(s, subject(ns))
		}
		return s
	}
	for i := range 46 {
		objs = append(objs, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("crb-%d", i)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: []string{"view", "system:heapster", "system:node-proxier"}[i%3]},
			Subjects:   subjects(""),
		})
	}
	for n := range 100 {
		ns := fmt.Sprintf("ns-%d", n)
		roles := []string{"config-writer", "secret-reader", "job-runner"}
		objs = append(objs,
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: roles[0]}, Rules: []rbacv1.PolicyRule{
				{Verbs: []string{"create", "update", "patch"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: roles[1]}, Rules: []rbacv1.PolicyRule{
				{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"app-token", "db-password"}}}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: roles[2]}, Rules: []rbacv1.PolicyRule{
				{Verbs: []string{"create", "get", "list", "watch", "delete"}, APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}},
				{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}}}},
		)
		for i := range 10 {
			ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: []string{"admin", "edit", "view"}[rnd.IntN(3)]}
			if rnd.IntN(2) == 0 {
				ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: roles[rnd.IntN(3)]}
			}
			objs = append(objs, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("rb-%d", i)}, RoleRef: ref, Subjects: subjects(ns)})
		}
	}
	// alice's own: her team views ns-42; she edits ns-17.
	objs = append(objs,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-42", Name: "team-3-view"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "team-3"}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-17", Name: "alice-edit"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}}},
	)
	return objs
}

var aliceGroups = []string{"team-3", "team-7", "system:authenticated"}

func BenchmarkAuthorize(b *testing.B) {
	a := rbac.New()
	if err := a.Replace(benchCluster()); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		req  rbac.Attributes
		want bool
	}{
		{"allowed by a RoleBinding", rbac.Attributes{User: "alice", Groups: aliceGroups, Verb: "list", ResourceRequest: true,
			Resource: "pods", Namespace: "ns-42"}, true},
		{"allowed by a RoleBinding, subresource", rbac.Attributes{User: "alice", Groups: aliceGroups, Verb: "update", ResourceRequest: true,
			APIGroup: "apps", Resource: "deployments", Subresource: "scale", Namespace: "ns-17", Name: "web"}, true},
		{"allowed by a ClusterRoleBinding, path", rbac.Attributes{User: "alice", Groups: aliceGroups, Verb: "get", Path: "/apis/apps/v1"}, true},
		{"no opinion", rbac.Attributes{User: "alice", Groups: aliceGroups, Verb: "delete", ResourceRequest: true,
			Resource: "secrets", Namespace: "ns-42", Name: "db-password"}, false},
		{"service account", rbac.Attributes{User: "system:serviceaccount:kube-system:replication-controller", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
			Verb: "create", ResourceRequest: true, Resource: "pods", Namespace: "ns-5"}, true},
	} {
		if d := a.Authorize(&bc.req); d.Allowed != bc.want {
			b.Fatalf("%s: allowed %v (%s)", bc.name, d.Allowed, d.Reason())
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.Authorize(&bc.req)
			}
		})
	}
	// The same requests, decided as upstream does: every ClusterRoleBinding
	// and every RoleBinding of the namespace, in turn.
	scan := rbac.ReferenceAuthorizer(benchCluster())
	b.Run("no opinion, without the index", func(b *testing.B) {
		req := rbac.Attributes{User: "alice", Groups: aliceGroups, Verb: "delete", ResourceRequest: true, Resource: "secrets", Namespace: "ns-42", Name: "x"}
		b.ReportAllocs()
		for b.Loop() {
			scan(&req)
		}
	})
	b.Run("no opinion, parallel", func(b *testing.B) {
		req := rbac.Attributes{User: "alice", Groups: aliceGroups, Verb: "delete", ResourceRequest: true, Resource: "secrets", Namespace: "ns-42", Name: "x"}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a.Authorize(&req)
			}
		})
	})
}

// BenchmarkLoad is the cost of indexing the whole benchmark cluster, as at
// start or after a relist.
func BenchmarkLoad(b *testing.B) {
	objs := benchCluster()
	b.ReportAllocs()
	for b.Loop() {
		if err := rbac.New().Replace(objs); err != nil {
			b.Fatal(err)
		}
	}
}
