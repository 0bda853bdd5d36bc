package rbac

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/tools/cache"
)

// cluster is a small cluster's RBAC objects, for the decisions below.
func cluster() []any {
	return []any{
		clusterRole("admin", rule("*", "*", "*")),
		clusterRole("pod-reader", rule("get,list,watch", "''", "pods,pods/log")),
		clusterRole("healthz", urlRule("get", "/healthz,/readyz")),
		nsRole("ns1", "cm-writer", rule("create,update", "''", "configmaps")),
		nsRole("ns1", "one-secret", rule("get", "''", "secrets", "token")),

		clusterBinding("root", "ClusterRole:admin", "Group:system:masters"),
		clusterBinding("readers", "ClusterRole:pod-reader", "User:rita", "Group:auditors"),
		clusterBinding("probes", "ClusterRole:healthz", "Group:system:authenticated"),
		clusterBinding("robot-readers", "ClusterRole:pod-reader", "ServiceAccount:kube-system/robot"),
		clusterBinding("nobody", "ClusterRole:admin", "ServiceAccount:robot"), // no namespace: no one
		clusterBinding("strangers", "ClusterRole:admin", "Alien:alice"),

		nsBinding("ns1", "alice-admin", "ClusterRole:admin", "User:alice"),
		nsBinding("ns1", "devs-cm", "Role:cm-writer", "Group:devs"),
		nsBinding("ns1", "builder", "Role:one-secret", "ServiceAccount:builder"),
		nsBinding("ns1", "foreign-builder", "ClusterRole:pod-reader", "ServiceAccount:ns2/builder"),
		nsBinding("ns2", "cm-elsewhere", "Role:cm-writer", "Group:devs"), // ns2 has no cm-writer
	}
}

func TestAuthorize(t *testing.T) {
	a := authorizerWith(cluster()...)
	for _, tc := range []struct {
		name string
		req  *Attributes
		want bool
	}{
		{"a ClusterRoleBinding grants in every namespace", res("root", "delete", "apps", "deployments", "", "ns9", "d", "system:masters"), true},
		{"a ClusterRoleBinding grants cluster-scoped resources", res("root", "delete", "", "nodes", "", "", "n1", "system:masters"), true},
		{"a ClusterRoleBinding to a user", res("rita", "list", "", "pods", "", "ns7", ""), true},
		{"a ClusterRoleBinding to a group", res("ann", "get", "", "pods", "log", "ns7", "p", "auditors"), true},
		{"only what the role grants", res("rita", "delete", "", "pods", "", "ns7", "p"), false},
		{"an unknown user", res("mallory", "get", "", "pods", "", "ns1", "p"), false},
		{"a group the user is not in", res("ann", "get", "", "pods", "", "ns1", "p", "editors"), false},
		{"a group named like the user is not the user", res("auditors", "get", "", "pods", "", "ns1", "p"), false},
		{"a user named like a group is not the group", res("ann", "get", "", "pods", "", "ns1", "p", "rita"), false},

		{"a RoleBinding to a ClusterRole grants in its namespace", res("alice", "delete", "", "secrets", "", "ns1", "s"), true},
		{"... and not in another", res("alice", "delete", "", "secrets", "", "ns2", "s"), false},
		{"... and not at the cluster scope", res("alice", "get", "", "nodes", "", "", "n1"), false},
		{"... and not across namespaces", res("alice", "list", "", "pods", "", "", ""), false},
		{"a RoleBinding to a Role", res("dan", "update", "", "configmaps", "", "ns1", "c", "devs"), true},
		{"a RoleBinding to a Role it cannot find", res("dan", "update", "", "configmaps", "", "ns2", "c", "devs"), false},

		{"a service account in the binding's namespace", res("system:serviceaccount:ns1:builder", "get", "", "secrets", "", "ns1", "token"), true},
		{"... only the named secret", res("system:serviceaccount:ns1:builder", "get", "", "secrets", "", "ns1", "other"), false},
		{"... never a list", res("system:serviceaccount:ns1:builder", "list", "", "secrets", "", "ns1", ""), false},
		{"the same name in another namespace is another account", res("system:serviceaccount:ns3:builder", "get", "", "secrets", "", "ns1", "token"), false},
		{"a service account of another namespace", res("system:serviceaccount:ns2:builder", "list", "", "pods", "", "ns1", ""), true},
		{"... granted only where the binding is", res("system:serviceaccount:ns2:builder", "list", "", "pods", "", "ns2", ""), false},
		{"a longer account name is another account", res("system:serviceaccount:ns1:builderx", "get", "", "secrets", "", "ns1", "token"), false},
		{"a ClusterRoleBinding to a service account", res("system:serviceaccount:kube-system:robot", "watch", "", "pods", "", "ns4", ""), true},
		{"a ClusterRoleBinding to a service account without a namespace binds no one", res("system:serviceaccount::robot", "get", "", "secrets", "", "ns1", "s"), false},
		{"a subject of an unknown kind binds no one", res("alice", "get", "", "nodes", "", "", "n"), false},

		{"a path through a group", path("ann", "get", "/healthz", "system:authenticated"), true},
		{"a path the role does not list", path("ann", "get", "/metrics", "system:authenticated"), false},
		{"a path, other verb", path("ann", "post", "/healthz", "system:authenticated"), false},
		{"a path through a RoleBinding's ClusterRole is not granted", path("alice", "get", "/healthz"), false},
		{"resource rules grant no path", path("root", "get", "/debug/pprof/", "system:masters"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := a.Authorize(tc.req)
			if d.Allowed != tc.want {
				t.Errorf("Authorize(%+v) = %v (%s), want %v", *tc.req, d.Allowed, d.Reason(), tc.want)
			}
		})
	}
}

func TestReason(t *testing.T) {
	a := authorizerWith(cluster()...)
	for _, tc := range []struct {
		req  *Attributes
		want string
	}{
		{res("root", "get", "", "pods", "", "ns1", "p", "system:masters"),
			`RBAC: allowed by ClusterRoleBinding "root" of ClusterRole "admin" to Group "system:masters"`},
		{res("system:serviceaccount:ns1:builder", "get", "", "secrets", "", "ns1", "token"),
			`RBAC: allowed by RoleBinding "builder/ns1" of Role "one-secret" to ServiceAccount "builder/ns1"`},
		{res("system:serviceaccount:ns2:builder", "get", "", "pods", "", "ns1", "p"),
			`RBAC: allowed by RoleBinding "foreign-builder/ns1" of ClusterRole "pod-reader" to ServiceAccount "builder/ns2"`},
		// The first of the binding's subjects that is the user is named.
		{res("rita", "get", "", "pods", "", "ns1", "p", "auditors"),
			`RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to User "rita"`},
		{res("nobody", "get", "", "pods", "", "ns1", "p"), ""},
		{res("dan", "update", "", "configmaps", "", "ns2", "c", "devs"),
			`RBAC: role.rbac.authorization.k8s.io "cm-writer" not found`},
	} {
		if got := a.Authorize(tc.req).Reason(); got != tc.want {
			t.Errorf("Authorize(%+v).Reason() =\n  %s\nwant\n  %s", *tc.req, got, tc.want)
		}
	}

	// Several unresolved references: each once, sorted, as upstream's aggregate.
	b := authorizerWith(
		clusterBinding("x1", "ClusterRole:gone", "User:u"),
		clusterBinding("x2", "ClusterRole:gone", "Group:g"),
		clusterBinding("x3", "Role:in-no-namespace", "Group:g"),
		nsBinding("ns", "x4", "Robot:r2", "User:u"),
	)
	want := `RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, role.rbac.authorization.k8s.io "in-no-namespace" not found, unsupported role reference kind: "Robot"]`
	if got := b.Authorize(res("u", "get", "", "pods", "", "ns", "p", "g")).Reason(); got != want {
		t.Errorf("Reason() =\n  %s\nwant\n  %s", got, want)
	}
}

func TestChanges(t *testing.T) {
	a := New()
	alice := res("alice", "get", "", "pods", "", "ns1", "p")
	step := func(what string, want bool, reason string) {
		t.Helper()
		d := a.Authorize(alice)
		if d.Allowed != want || d.Reason() != reason {
			t.Errorf("after %s: allowed %v (%q), want %v (%q)", what, d.Allowed, d.Reason(), want, reason)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	step("nothing", false, "")
	must(a.Add(nsBinding("ns1", "b", "ClusterRole:reader", "User:alice")))
	step("a binding to a role that does not exist yet", false, `RBAC: clusterrole.rbac.authorization.k8s.io "reader" not found`)
	must(a.Add(clusterRole("reader", rule("get", "''", "pods"))))
	step("the role", true, `RBAC: allowed by RoleBinding "b/ns1" of ClusterRole "reader" to User "alice"`)
	must(a.Update(clusterRole("reader", rule("get", "''", "services"))))
	step("the role no longer granting pods", false, "")
	must(a.Update(clusterRole("reader", rule("get", "''", "pods"))))
	must(a.Update(nsBinding("ns1", "b", "ClusterRole:reader", "User:bob")))
	step("the binding naming someone else", false, "")
	must(a.Update(nsBinding("ns1", "b", "ClusterRole:reader", "Group:devs", "User:alice")))
	step("the binding naming her again", true, `RBAC: allowed by RoleBinding "b/ns1" of ClusterRole "reader" to User "alice"`)
	must(a.Delete(clusterRole("reader")))
	step("deleting the role", false, `RBAC: clusterrole.rbac.authorization.k8s.io "reader" not found`)
	must(a.Add(clusterRole("reader", rule("get", "''", "pods"))))
	must(a.Delete(cache.DeletedFinalStateUnknown{Key: "ns1/b", Obj: nsBinding("ns1", "b", "", "")}))
	step("deleting the binding by tombstone", false, "")

	// Nothing is left indexed under alice, devs or the role once its
	// bindings are gone and it is deleted.
	must(a.Delete(clusterRole("reader")))
	if len(a.users) != 0 || len(a.groups) != 0 || len(a.roles) != 0 || len(a.bindings) != 0 {
		t.Errorf("leftovers: users %v, groups %v, roles %v, bindings %v", a.users, a.groups, a.roles, a.bindings)
	}

	must(a.Replace(cluster()))
	if d := a.Authorize(res("alice", "delete", "", "secrets", "", "ns1", "s")); !d.Allowed {
		t.Errorf("after Replace: not allowed")
	}
	must(a.Replace(nil))
	if d := a.Authorize(res("alice", "delete", "", "secrets", "", "ns1", "s")); d.Allowed {
		t.Errorf("after Replace(nil): allowed")
	}
	if err := a.Add(&rbacv1.RoleBindingList{}); err == nil {
		t.Errorf("Add of a list: no error")
	}
}

func TestRulesFor(t *testing.T) {
	a := authorizerWith(cluster()...)
	got, err := a.RulesFor("dan", []string{"devs", "system:authenticated", "auditors"}, "ns1")
	want := []rbacv1.PolicyRule{
		urlRule("get", "/healthz,/readyz"),            // probes
		rule("get,list,watch", "''", "pods,pods/log"), // readers
		rule("create,update", "''", "configmaps"),     // devs-cm
	}
	if err != nil || !slices.EqualFunc(got, want, ruleEqual) {
		t.Errorf("RulesFor(dan, ns1) = %v, %v\nwant %v", got, err, want)
	}
	got, err = a.RulesFor("dan", []string{"devs"}, "ns2")
	if len(got) != 0 || err == nil || err.Error() != `role.rbac.authorization.k8s.io "cm-writer" not found` {
		t.Errorf("RulesFor(dan, ns2) = %v, %v", got, err)
	}
	// A binding that names the user twice over gives its rules once.
	b := authorizerWith(clusterRole("r", rule("get", "''", "pods")), clusterBinding("twice", "ClusterRole:r", "User:u", "Group:g"))
	if got, _ := b.RulesFor("u", []string{"g"}, ""); len(got) != 1 {
		t.Errorf("RulesFor through two subjects of one binding = %v", got)
	}
	rules, err := a.RoleRefRules(ref("Role:cm-writer"), "ns1")
	if err != nil || len(rules) != 1 {
		t.Errorf("RoleRefRules(Role cm-writer in ns1) = %v, %v", rules, err)
	}
	if _, err := a.RoleRefRules(ref("Role:cm-writer"), "ns2"); err == nil {
		t.Errorf("RoleRefRules(Role cm-writer in ns2): no error")
	}
}

func ruleEqual(x, y rbacv1.PolicyRule) bool { return x.String() == y.String() }

// TestAgreesWithUpstreamAlgorithm drives the index through random adds,
// updates and deletes and, after each, compares its decisions and rules with
// upstream's algorithm (reference below: every binding, listed, each tried in
// turn) over the same objects.
func TestAgreesWithUpstreamAlgorithm(t *testing.T) {
	rnd := newRand(1)
	pick := func(xs ...string) string { return xs[rnd.intn(len(xs))] }
	namespaces := []string{"a", "b", "c"}
	users := []string{"u1", "u2", "system:serviceaccount:a:sa", "system:serviceaccount:b:sa", "system:serviceaccount:a:sb"}
	groups := []string{"g1", "g2", "g3"}
	randRule := func() rbacv1.PolicyRule {
		if rnd.intn(5) == 0 {
			return urlRule(pick("get", "*", "post"), pick("/healthz", "/api/*", "*"))
		}
		var names []string
		if rnd.intn(4) == 0 {
			names = []string{pick("x", "y")}
		}
		return rule(pick("get", "list", "get,list", "*"), pick("''", "apps", "*"), pick("pods", "pods/log", "*/log", "deployments", "*"), names...)
	}
	randSubjects := func() []string {
		var s []string
		for range 1 + rnd.intn(3) {
			switch rnd.intn(4) {
			case 0:
				s = append(s, "User:"+pick(users...))
			case 1:
				s = append(s, "Group:"+pick(groups...))
			case 2:
				s = append(s, "ServiceAccount:"+pick("sa", "sb", "a/sa", "b/sa"))
			default:
				s = append(s, pick("User:u1", "Group:g1", "Alien:u1"))
			}
		}
		return s
	}
	roleNames := []string{"r1", "r2", "r3"}
	randObject := func() any {
		switch rnd.intn(4) {
		case 0:
			return clusterRole(pick(roleNames...), randRule(), randRule())
		case 1:
			return nsRole(pick(namespaces...), pick(roleNames...), randRule())
		case 2:
			return clusterBinding(pick("c1", "c2", "c3", "c4"), pick("ClusterRole:", "ClusterRole:", "Role:")+pick(roleNames...), randSubjects()...)
		default:
			return nsBinding(pick(namespaces...), pick("b1", "b2", "b3", "b4", "b5"), pick("ClusterRole:", "Role:", "Role:")+pick(roleNames...), randSubjects()...)
		}
	}
	randRequest := func() *Attributes {
		u := pick(users...)
		var gs []string
		for _, g := range groups {
			if rnd.intn(2) == 0 {
				gs = append(gs, g)
			}
		}
		if rnd.intn(5) == 0 {
			return path(u, pick("get", "post"), pick("/healthz", "/api/v1", "/apis"), gs...)
		}
		return res(u, pick("get", "list", "delete"), pick("", "apps"), pick("pods", "deployments"), pick("", "", "log"),
			pick("", "a", "b", "c"), pick("", "x", "y"), gs...)
	}

	a := New()
	ref := &reference{}
	var allowedN, brokenN int // decisions that allowed, and that reported unresolved roles
	for i := range 3000 {
		obj := randObject()
		if rnd.intn(3) == 0 {
			if err := a.Delete(obj); err != nil {
				t.Fatal(err)
			}
			ref.delete(obj)
		} else {
			if err := a.Add(obj); err != nil {
				t.Fatal(err)
			}
			ref.set(obj)
		}
		for range 20 {
			req := randRequest()
			got := a.Authorize(req)
			if got.Allowed {
				allowedN++
			} else if got.Reason() != "" {
				brokenN++
			}
			want, wantReason := ref.authorize(req)
			if got.Allowed != want || (!want && got.Reason() != wantReason) {
				t.Fatalf("step %d: Authorize(%+v) = %v %q, upstream's algorithm: %v %q", i, *req, got.Allowed, got.Reason(), want, wantReason)
			}
			gotRules, gotErr := a.RulesFor(req.User, req.Groups, req.Namespace)
			wantRules, wantErr := ref.rulesFor(req.User, req.Groups, req.Namespace)
			if ruleSet(gotRules) != ruleSet(wantRules) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("step %d: RulesFor(%s, %v, %q) =\n %s %v\nupstream's algorithm:\n %s %v", i, req.User, req.Groups, req.Namespace,
					ruleSet(gotRules), gotErr, ruleSet(wantRules), wantErr)
			}
		}
	}
	if allowedN < 1000 || brokenN < 1000 {
		t.Errorf("the random cluster allowed %d and reported unresolved roles %d times in 60000: too few to compare", allowedN, brokenN)
	}
}

// ruleSet is rules as a sorted multiset.
func ruleSet(rules []rbacv1.PolicyRule) string {
	var s []string
	for _, r := range rules {
		s = append(s, r.String())
	}
	slices.Sort(s)
	return strings.Join(s, "\n ")
}

// TestConcurrentUse decides while the objects change; run with -race.
func TestConcurrentUse(t *testing.T) {
	a := authorizerWith(cluster()...)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d := a.Authorize(res("root", "get", "", "pods", "", "ns1", "p", "system:masters")); !d.Allowed {
					t.Error("cluster-admin refused while others change")
					return
				}
				_ = a.Authorize(res("alice", "get", "", "pods", "", "ns1", "p")).Reason()
				_, _ = a.RulesFor("dan", []string{"devs"}, "ns1")
			}
		}()
	}
	for i := range 2000 {
		ns := fmt.Sprintf("ns%d", i%10)
		_ = a.Add(nsBinding(ns, "b", "ClusterRole:admin", "User:alice", "Group:devs"))
		_ = a.Add(clusterRole("pod-reader", rule("get", "''", "pods")))
		if i%3 == 0 {
			_ = a.Delete(nsBinding(ns, "b", "", ""))
		}
		if i%100 == 0 {
			_ = a.Replace(cluster())
		}
	}
	close(stop)
	wg.Wait()
}
