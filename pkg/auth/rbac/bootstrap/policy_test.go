package bootstrap

import (
	"go/build"
	"os"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/skiffhq/skiff/pkg/auth/rbac"
)

// upstreamFixtures is where upstream's record of its bootstrap policy lives
// in the module cache, when k8s.io/kubernetes v1.37.2 is there.
func upstreamFixtures(t *testing.T) string {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		cache = filepath.Join(build.Default.GOPATH, "pkg", "mod")
	}
	dir := filepath.Join(cache, "k8s.io", "kubernetes@v1.37.2", "plugin", "pkg", "auth", "authorizer", "rbac", "bootstrappolicy", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("upstream's bootstrap policy fixtures are not in the module cache (%v): the policy's own checks still run", err)
	}
	return dir
}

// readFixture reads one of upstream's fixture lists, keyed by
// namespace/name (upstream's namespace-roles.yaml lists one role twice).
func readFixture[T any](t *testing.T, dir, name string, key func(*T) string) map[string]*T {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []runtime.RawExtension }
	if err := yaml.Unmarshal(data, &list); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string]*T{}
	for _, raw := range list.Items {
		obj := new(T)
		if err := yaml.Unmarshal(raw.Raw, obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[key(obj)] = obj
	}
	return out
}

// compare reports each object that is missing from, extra to or different
// from upstream's fixture, comparing what the API would store (metadata
// labels and annotations, rules, aggregation, roleRef, subjects).
func compare[T any](t *testing.T, fixture string, want map[string]*T, got []T, key func(*T) string, strip func(*T)) {
	t.Helper()
	seen := map[string]bool{}
	for i := range got {
		g := &got[i]
		k := key(g)
		if seen[k] {
			t.Errorf("%s: %s twice", fixture, k)
		}
		seen[k] = true
		w, ok := want[k]
		if !ok {
			t.Errorf("%s: %s is not upstream's", fixture, k)
			continue
		}
		strip(g)
		strip(w)
		if !equality.Semantic.DeepEqual(g, w) {
			gy, _ := yaml.Marshal(g)
			wy, _ := yaml.Marshal(w)
			t.Errorf("%s: %s differs from upstream's.\n--- ours:\n%s--- upstream's:\n%s", fixture, k, gy, wy)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("%s: upstream's %s is missing", fixture, k)
		}
	}
}

func TestPolicyIsUpstreams(t *testing.T) {
	dir := upstreamFixtures(t)
	crKey := func(r *rbacv1.ClusterRole) string { return r.Name }
	crbKey := func(b *rbacv1.ClusterRoleBinding) string { return b.Name }
	rKey := func(r *rbacv1.Role) string { return r.Namespace + "/" + r.Name }
	rbKey := func(b *rbacv1.RoleBinding) string { return b.Namespace + "/" + b.Name }
	// The fixtures are API objects, with a kind; ours are Go values.
	crStrip := func(r *rbacv1.ClusterRole) { r.TypeMeta = rbacv1.ClusterRole{}.TypeMeta }
	crbStrip := func(b *rbacv1.ClusterRoleBinding) { b.TypeMeta = rbacv1.ClusterRoleBinding{}.TypeMeta }
	rStrip := func(r *rbacv1.Role) { r.TypeMeta = rbacv1.Role{}.TypeMeta }
	rbStrip := func(b *rbacv1.RoleBinding) { b.TypeMeta = rbacv1.RoleBinding{}.TypeMeta }

	compare(t, "cluster-roles.yaml", readFixture(t, dir, "cluster-roles.yaml", crKey), ClusterRoles(), crKey, crStrip)
	compare(t, "controller-roles.yaml", readFixture(t, dir, "controller-roles.yaml", crKey), ControllerRoles(), crKey, crStrip)
	compare(t, "cluster-role-bindings.yaml", readFixture(t, dir, "cluster-role-bindings.yaml", crbKey), ClusterRoleBindings(), crbKey, crbStrip)
	compare(t, "controller-role-bindings.yaml", readFixture(t, dir, "controller-role-bindings.yaml", crbKey), ControllerRoleBindings(), crbKey, crbStrip)
	compare(t, "namespace-roles.yaml", readFixture(t, dir, "namespace-roles.yaml", rKey), NamespaceRoles(), rKey, rStrip)
	compare(t, "namespace-role-bindings.yaml", readFixture(t, dir, "namespace-role-bindings.yaml", rbKey), NamespaceRoleBindings(), rbKey, rbStrip)
}

// TestPolicyHoldsTogether checks, with or without upstream's fixtures, what
// every object of the policy must be: labelled and annotated as upstream's,
// uniquely named, each binding's role part of the policy.
func TestPolicyHoldsTogether(t *testing.T) {
	p := Default()
	if len(p.ClusterRoles) != 32+41 || len(p.ClusterRoleBindings) != 13+41 || len(p.Roles) != 7 || len(p.RoleBindings) != 7 {
		t.Errorf("policy of %d ClusterRoles, %d ClusterRoleBindings, %d Roles, %d RoleBindings; v1.37.2's has 73, 54, 7, 7",
			len(p.ClusterRoles), len(p.ClusterRoleBindings), len(p.Roles), len(p.RoleBindings))
	}
	clusterRoles, roles := map[string]bool{}, map[string]bool{}
	check := func(kind, namespace, name string, labels, annotations map[string]string, seen map[string]bool) {
		t.Helper()
		if labels[BootstrappingLabel] != BootstrappingValue || annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
			t.Errorf("%s %s/%s: labels %v, annotations %v", kind, namespace, name, labels, annotations)
		}
		if namespace != "" && namespace != "kube-system" && namespace != "kube-public" {
			t.Errorf("%s %s/%s: outside kube-system and kube-public", kind, namespace, name)
		}
		if seen[namespace+"/"+name] {
			t.Errorf("%s %s/%s twice", kind, namespace, name)
		}
		seen[namespace+"/"+name] = true
	}
	for _, r := range p.ClusterRoles {
		check("ClusterRole", "", r.Name, r.Labels, r.Annotations, clusterRoles)
	}
	for _, r := range p.Roles {
		check("Role", r.Namespace, r.Name, r.Labels, r.Annotations, roles)
	}
	bindings := map[string]bool{}
	for _, b := range p.ClusterRoleBindings {
		check("ClusterRoleBinding", "", b.Name, b.Labels, b.Annotations, bindings)
		if b.RoleRef.Kind != "ClusterRole" || !clusterRoles["/"+b.RoleRef.Name] {
			t.Errorf("ClusterRoleBinding %s: role %v is not in the policy", b.Name, b.RoleRef)
		}
	}
	for _, b := range p.RoleBindings {
		check("RoleBinding", b.Namespace, b.Name, b.Labels, b.Annotations, bindings)
		if b.RoleRef.Kind != "Role" || !roles[b.Namespace+"/"+b.RoleRef.Name] {
			t.Errorf("RoleBinding %s/%s: role %v is not in the policy", b.Namespace, b.Name, b.RoleRef)
		}
	}

	// Each call builds its own objects: changing one changes no other.
	a, b := ClusterRoles(), ClusterRoles()
	a[1].Rules[0].Verbs[0] = "changed"
	a[1].Labels["x"] = "y"
	if b[1].Rules[0].Verbs[0] == "changed" || b[1].Labels["x"] == "y" || read[0] != "get" {
		t.Errorf("policies share their slices or maps")
	}
}

// TestPolicyGrants loads the policy into the RBAC authorizer, with the
// aggregated roles filled in as the aggregation controller would, and asks
// what the users upstream's policy is written for may do.
func TestPolicyGrants(t *testing.T) {
	p := Default()
	var all []*rbacv1.ClusterRole
	for i := range p.ClusterRoles {
		all = append(all, &p.ClusterRoles[i])
	}
	// admin gathers edit's rules, which edit gathers from others: repeat
	// until nothing changes, as the controller does on every change.
	for changed := true; changed; {
		changed = false
		for _, r := range all {
			rules, ok, err := rbac.AggregateRules(r, all)
			if err != nil {
				t.Fatal(err)
			}
			if ok && !equality.Semantic.DeepEqual(rules, r.Rules) {
				r.Rules, changed = rules, true
			}
		}
	}
	a := rbac.New()
	for _, objs := range [][]any{ptrs(p.ClusterRoles), ptrs(p.ClusterRoleBindings), ptrs(p.Roles), ptrs(p.RoleBindings)} {
		for _, o := range objs {
			if err := a.Add(o); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A user bound to admin, edit and view in one namespace each.
	for ns, role := range map[string]string{"a": "admin", "e": "edit", "v": "view"} {
		if err := a.Add(&rbacv1.RoleBinding{ObjectMeta: meta(ns, "dev"), Subjects: []rbacv1.Subject{user("dev")},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}); err != nil {
			t.Fatal(err)
		}
	}

	authenticated := []string{"system:authenticated"}
	res := func(user string, groups []string, verb, group, resource, sub, ns, name string) *rbac.Attributes {
		return &rbac.Attributes{User: user, Groups: groups, Verb: verb, ResourceRequest: true, APIGroup: group,
			Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	path := func(user string, groups []string, verb, p string) *rbac.Attributes {
		return &rbac.Attributes{User: user, Groups: groups, Verb: verb, Path: p}
	}
	for _, tc := range []struct {
		name string
		req  *rbac.Attributes
		want bool
	}{
		{"system:masters may do anything", res("root", []string{"system:masters", "system:authenticated"}, "delete", "", "nodes", "", "", "n"), true},
		{"... to any path", path("root", []string{"system:masters"}, "put", "/debug/flags/v"), true},
		{"any user may discover the API", path("someone", authenticated, "get", "/apis/apps/v1"), true},
		{"... and read the OpenAPI", path("someone", authenticated, "get", "/openapi/v3"), true},
		{"... and ask what they may do", res("someone", authenticated, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""), true},
		{"... but not read pods", res("someone", authenticated, "list", "", "pods", "", "default", ""), false},
		{"... nor write a path", path("someone", authenticated, "post", "/api"), false},
		{"an anonymous client may read the version", path("system:anonymous", []string{"system:unauthenticated"}, "get", "/version"), true},
		{"... and health", path("system:anonymous", []string{"system:unauthenticated"}, "get", "/readyz"), true},
		{"... but not discover the API", path("system:anonymous", []string{"system:unauthenticated"}, "get", "/api"), false},
		{"kube-proxy lists EndpointSlices", res("system:kube-proxy", authenticated, "list", "discovery.k8s.io", "endpointslices", "", "", ""), true},
		{"kube-proxy may not write Services", res("system:kube-proxy", authenticated, "update", "", "services", "", "default", "s"), false},
		{"the scheduler binds pods", res("system:kube-scheduler", authenticated, "create", "", "pods", "binding", "default", "p"), true},
		{"the scheduler holds its own lease", res("system:kube-scheduler", authenticated, "update", "coordination.k8s.io", "leases", "", "kube-system", "kube-scheduler"), true},
		{"... and no other outside kube-system", res("system:kube-scheduler", authenticated, "update", "coordination.k8s.io", "leases", "", "default", "other"), false},
		{"the replication controller's account creates pods", res("system:serviceaccount:kube-system:replication-controller", nil, "create", "", "pods", "", "default", ""), true},
		{"... but not deployments", res("system:serviceaccount:kube-system:replication-controller", nil, "create", "apps", "deployments", "", "default", ""), false},
		{"the same account in another namespace is not the controller", res("system:serviceaccount:default:replication-controller", nil, "create", "", "pods", "", "default", ""), false},
		{"kube-dns lists Services", res("system:serviceaccount:kube-system:kube-dns", nil, "list", "", "services", "", "", ""), true},
		{"service accounts read the issuer discovery", path("system:serviceaccount:default:app", []string{"system:serviceaccounts"}, "get", "/openid/v1/jwks"), true},
		{"the scheduler reads the authentication configmap", res("system:kube-scheduler", nil, "get", "", "configmaps", "", "kube-system", "extension-apiserver-authentication"), true},
		{"... and no other configmap", res("system:kube-scheduler", nil, "get", "", "configmaps", "", "kube-system", "other"), false},
		{"the bootstrap signer updates cluster-info in kube-public", res("system:serviceaccount:kube-system:bootstrap-signer", nil, "update", "", "configmaps", "", "kube-public", "cluster-info"), true},
		{"system:node is bound to no one", res("system:node:n1", []string{"system:nodes"}, "get", "", "nodes", "", "", "n1"), false},

		{"view reads pods", res("dev", authenticated, "list", "", "pods", "", "v", ""), true},
		{"view reads pods' logs", res("dev", authenticated, "get", "", "pods", "log", "v", "p"), true},
		{"view does not read secrets", res("dev", authenticated, "get", "", "secrets", "", "v", "s"), false},
		{"view does not exec", res("dev", authenticated, "create", "", "pods", "exec", "v", "p"), false},
		{"edit reads secrets", res("dev", authenticated, "get", "", "secrets", "", "e", "s"), true},
		{"edit scales deployments", res("dev", authenticated, "update", "apps", "deployments", "scale", "e", "d"), true},
		{"edit execs", res("dev", authenticated, "create", "", "pods", "exec", "e", "p"), true},
		{"edit does not bind roles", res("dev", authenticated, "create", "rbac.authorization.k8s.io", "rolebindings", "", "e", ""), false},
		{"admin binds roles", res("dev", authenticated, "create", "rbac.authorization.k8s.io", "rolebindings", "", "a", ""), true},
		{"admin has edit's rights too", res("dev", authenticated, "delete", "batch", "cronjobs", "", "a", "c"), true},
		{"admin only in its namespace", res("dev", authenticated, "create", "rbac.authorization.k8s.io", "rolebindings", "", "e", ""), false},
		{"no one of these writes nodes", res("dev", authenticated, "update", "", "nodes", "", "", "n1"), false},
	} {
		if d := a.Authorize(tc.req); d.Allowed != tc.want {
			t.Errorf("%s: allowed %v (%s), want %v", tc.name, d.Allowed, d.Reason(), tc.want)
		}
	}
}

func ptrs[T any](objs []T) []any {
	out := make([]any, len(objs))
	for i := range objs {
		out[i] = &objs[i]
	}
	return out
}
