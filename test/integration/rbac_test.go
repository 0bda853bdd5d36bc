package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestRBACAPI runs every kind of rbac.authorization.k8s.io/v1 through
// create, get, update, each patch type, list, watch and deletecollection,
// and checks discovery lists the group where upstream does.
func TestRBACAPI(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	gvr := rbacv1.SchemeGroupVersion.WithResource
	rules := []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}
	subjects := []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}}
	for _, tc := range []lifecycle{
		{gvr: gvr("roles"), namespaced: true, initial: &rbacv1.Role{Rules: rules}},
		{gvr: gvr("clusterroles"), initial: &rbacv1.ClusterRole{Rules: rules}},
		{gvr: gvr("rolebindings"), namespaced: true, initial: &rbacv1.RoleBinding{RoleRef: ref, Subjects: subjects}},
		{gvr: gvr("clusterrolebindings"), initial: &rbacv1.ClusterRoleBinding{RoleRef: ref, Subjects: subjects}},
	} {
		tc.updateSpec, tc.patchSpec, tc.check = setLabel("updated", "true"), labelPatches("updated", "true"), hasLabel("updated", "true")
		t.Run(tc.gvr.Resource, func(t *testing.T) { tc.run(t, c) })
	}

	groups, err := c.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups.Groups {
		names = append(names, g.Name)
	}
	// Upstream's discovery order: policy (17100), rbac (17000), storage (16800).
	i := slices.Index(names, "rbac.authorization.k8s.io")
	if i < 1 || i+1 >= len(names) || names[i-1] != "policy" || names[i+1] != "storage.k8s.io" {
		t.Fatalf("/apis lists %q; want rbac.authorization.k8s.io between policy and storage.k8s.io", names)
	}
	resources, err := c.Client.Discovery().ServerResourcesForGroupVersion("rbac.authorization.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range resources.APIResources {
		got = append(got, fmt.Sprintf("%s %s %v %q %q", r.Name, r.Kind, r.Namespaced, r.ShortNames, r.Categories))
	}
	want := []string{
		`clusterrolebindings ClusterRoleBinding false [] []`,
		`clusterroles ClusterRole false [] []`,
		`rolebindings RoleBinding true [] []`,
		`roles Role true [] []`,
	}
	if !equalLists(got, want) {
		t.Errorf("discovery of rbac.authorization.k8s.io/v1:\n got %q\nwant %q", got, want)
	}
}

// TestRBACConformanceCalls makes the RBAC calls of upstream's e2e tests
// (the aggregator's and webhook's auth-reader binding, whose roleRef names
// no group, and the framework's bindings of service accounts) and checks
// what the server fills in and refuses.
func TestRBACConformanceCalls(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	ns := createNamespace(t, c, "rbac-e2e")

	rb, err := c.Client.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "wardle-auth-reader", Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "", Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.APIGroup != rbacv1.GroupName || rb.Subjects[0].APIGroup != "" || rb.Generation != 0 {
		t.Fatalf("created %+v: want the roleRef's group filled in, the service account's left empty, no generation", rb)
	}
	crb, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "--edit"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}, {Kind: "User", Name: "e2e-user"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if crb.Subjects[1].APIGroup != rbacv1.GroupName {
		t.Fatalf("a user subject without a group: %+v", crb.Subjects[1])
	}

	// A PUT may create, as upstream's strategies allow.
	role, err := c.Client.RbacV1().Roles(ns).Update(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "put", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.UpdateOptions{})
	if err != nil || role.UID == "" {
		t.Fatalf("PUT of a missing role: %+v, %v", role, err)
	}

	_, err = c.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "no-namespace"},
		RoleRef:    rbacv1.RoleRef{Kind: "Role", Name: "x"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default"}, {Kind: "User"}},
	}, metav1.CreateOptions{})
	want := `ClusterRoleBinding.rbac.authorization.k8s.io "no-namespace" is invalid: [` +
		`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole", ` +
		`subjects[0].namespace: Required value, ` +
		`subjects[1].name: Required value]`
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Fatalf("an invalid binding: %v\nwant: %s", err, want)
	}

	rb.RoleRef.Name = "other"
	_, err = c.Client.RbacV1().RoleBindings("kube-system").Update(ctx, rb, metav1.UpdateOptions{})
	want = `RoleBinding.rbac.authorization.k8s.io "wardle-auth-reader" is invalid: roleRef: Invalid value: ` +
		`{"APIGroup":"rbac.authorization.k8s.io","Kind":"Role","Name":"other"}: field is immutable`
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Fatalf("changing the roleRef: %v\nwant: %s", err, want)
	}
}

const invalidRoleYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: broken
rules:
- resources: ["pods"]
- verbs: ["get"]
  nonResourceURLs: ["/healthz"]
`

// TestRBACWithKubectl serves rbac.authorization.k8s.io/v1 to every kubectl:
// api-resources, explain, create of each kind through kubectl's own
// generators, get with upstream's columns (and -o wide), describe, the
// roleRef that cannot change, an invalid role, and delete.
func TestRBACWithKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			t.Parallel()
			v := strings.ReplaceAll(k.Version, ".", "-")
			ns := "rbac-" + v
			cr, crb := "node-reader-"+v, "read-nodes-"+v
			run := func(args ...string) string { t.Helper(); return c.MustRun(t, k, "", args...) }
			fail := func(stdin string, args ...string) string {
				t.Helper()
				out, errOut, err := c.Run(k, stdin, args...)
				if err == nil {
					t.Fatalf("kubectl %s should fail; stdout:\n%s", strings.Join(args, " "), out)
				}
				return errOut
			}
			run("create", "namespace", ns)

			resources := run("api-resources", "--api-group=rbac.authorization.k8s.io")
			for _, line := range [][]string{
				{"clusterrolebindings", "rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"},
				{"clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"},
				{"rolebindings", "rbac.authorization.k8s.io/v1", "true", "RoleBinding"},
				{"roles", "rbac.authorization.k8s.io/v1", "true", "Role"},
			} {
				if !hasLine(resources, line...) {
					t.Fatalf("api-resources lacks %q:\n%s", line, resources)
				}
			}
			mustContain(t, "explain", run("explain", "role"), "KIND:", "Role", "rules", "PolicyRule")
			mustContain(t, "explain a field", run("explain", "clusterrole.aggregationRule"), "clusterRoleSelectors")
			mustContain(t, "explain a binding", run("explain", "rolebinding.roleRef"), "apiGroup", "kind", "name")

			mustContain(t, "create role", run("create", "role", "pod-reader", "-n", ns, "--verb=get,list", "--resource=pods"),
				"role.rbac.authorization.k8s.io/pod-reader created")
			mustContain(t, "create clusterrole", run("create", "clusterrole", cr, "--verb=get,watch", "--resource=nodes"),
				"clusterrole.rbac.authorization.k8s.io/"+cr+" created")
			mustContain(t, "create rolebinding", run("create", "rolebinding", "read-pods", "-n", ns, "--role=pod-reader",
				"--user=alice", "--user=bob", "--group=devs", "--serviceaccount="+ns+":builder"),
				"rolebinding.rbac.authorization.k8s.io/read-pods created")
			mustContain(t, "create clusterrolebinding", run("create", "clusterrolebinding", crb, "--clusterrole="+cr, "--group=ops"),
				"clusterrolebinding.rbac.authorization.k8s.io/"+crb+" created")

			out := run("get", "roles", "-n", ns)
			if !hasLine(out, "NAME", "CREATED", "AT") || !hasRow(out, "pod-reader", anyField) {
				t.Fatalf("kubectl get roles:\n%s", out)
			}
			out = run("get", "rolebindings", "-n", ns)
			if !hasLine(out, "NAME", "ROLE", "AGE") || !hasRow(out, "read-pods", "Role/pod-reader", anyField) {
				t.Fatalf("kubectl get rolebindings:\n%s", out)
			}
			out = run("get", "rolebindings", "-n", ns, "-o", "wide")
			if !hasLine(out, "NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS") ||
				!hasRow(out, "read-pods", "Role/pod-reader", anyField, "alice,", "bob", "devs", ns+"/builder") {
				t.Fatalf("kubectl get rolebindings -o wide:\n%s", out)
			}
			out = run("get", "clusterroles", cr)
			if !hasLine(out, "NAME", "CREATED", "AT") || !hasRow(out, cr, anyField) {
				t.Fatalf("kubectl get clusterroles:\n%s", out)
			}
			out = run("get", "clusterrolebindings", crb)
			if !hasLine(out, "NAME", "ROLE", "AGE") || !hasRow(out, crb, "ClusterRole/"+cr, anyField) {
				t.Fatalf("kubectl get clusterrolebindings:\n%s", out)
			}
			out = run("get", "clusterrolebindings", crb, "-o", "wide")
			if !hasLine(out, "NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS") || !hasRow(out, crb, "ClusterRole/"+cr, anyField, "ops") {
				t.Fatalf("kubectl get clusterrolebindings -o wide:\n%s", out)
			}

			out = run("describe", "role", "pod-reader", "-n", ns)
			if !hasLine(out, "Name:", "pod-reader") || !hasLine(out, "PolicyRule:") ||
				!hasLine(out, "Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs") || !hasLine(out, "pods", "[]", "[]", "[get", "list]") {
				t.Fatalf("kubectl describe role:\n%s", out)
			}
			out = run("describe", "rolebinding", "read-pods", "-n", ns)
			if !hasLine(out, "Kind:", "Role") || !hasLine(out, "Name:", "pod-reader") || !hasLine(out, "Kind", "Name", "Namespace") ||
				!hasLine(out, "User", "alice") || !hasLine(out, "Group", "devs") || !hasLine(out, "ServiceAccount", "builder", ns) {
				t.Fatalf("kubectl describe rolebinding:\n%s", out)
			}
			out = run("describe", "clusterrole", cr)
			if !hasLine(out, "nodes", "[]", "[]", "[get", "watch]") {
				t.Fatalf("kubectl describe clusterrole:\n%s", out)
			}

			errOut := fail("", "patch", "rolebinding", "read-pods", "-n", ns, "-p", `{"roleRef":{"name":"other"}}`)
			mustContain(t, "changing the roleRef", errOut, `The RoleBinding "read-pods" is invalid: roleRef: Invalid value: `+
				`{"APIGroup":"rbac.authorization.k8s.io","Kind":"Role","Name":"other"}: field is immutable`)
			errOut = fail("", "patch", "clusterrolebinding", crb, "--type=json", "-p", `[{"op":"replace","path":"/roleRef/name","value":"admin"}]`)
			mustContain(t, "changing the roleRef", errOut, `The ClusterRoleBinding "`+crb+`" is invalid: roleRef: Invalid value: `+
				`{"APIGroup":"rbac.authorization.k8s.io","Kind":"ClusterRole","Name":"admin"}: field is immutable`)

			errOut = fail(invalidRoleYAML, "create", "-n", ns, "-f", "-")
			mustContain(t, "an invalid role", errOut, `The Role "broken" is invalid: `,
				"* rules[0].apiGroups: Required value: resource rules must supply at least one api group\n"+
					`* rules[1].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs`+"\n"+
					"* rules[0].verbs: Required value")

			mustContain(t, "delete", run("delete", "clusterrolebinding", crb), `clusterrolebinding.rbac.authorization.k8s.io "`+crb+`" deleted`)
			mustContain(t, "delete", run("delete", "rolebinding", "read-pods", "-n", ns), `rolebinding.rbac.authorization.k8s.io "read-pods" deleted`)
			errOut = fail("", "get", "rolebinding", "read-pods", "-n", ns)
			mustContain(t, "deleted", errOut, `rolebindings.rbac.authorization.k8s.io "read-pods" not found`)
		})
	}
}

// TestClusterRoleAggregation: a ClusterRole with an aggregationRule gets the
// rules of the ClusterRoles it selects within seconds, keeps following them,
// and kubectl describe shows them.
func TestClusterRoleAggregation(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	k := harness.Kubectls(t)[0]
	roles := c.Client.RbacV1().ClusterRoles()
	rule := func(verb, resource string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{""}, Resources: []string{resource}}
	}
	waitRules := func(what string, want ...rbacv1.PolicyRule) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := roles.Get(ctx, "monitoring", metav1.GetOptions{})
			if err == nil && equality.Semantic.DeepEqual(got.Rules, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: monitoring's rules %+v (%v), want %+v", what, got.Rules, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	mustContain(t, "create", c.MustRun(t, k, "", "create", "clusterrole", "monitoring",
		"--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true"),
		"clusterrole.rbac.authorization.k8s.io/monitoring created")
	for _, r := range []*rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "monitoring-pods", Labels: map[string]string{"rbac.example.com/aggregate-to-monitoring": "true"}},
			Rules: []rbacv1.PolicyRule{rule("get", "pods"), rule("list", "pods")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "monitoring-endpoints", Labels: map[string]string{"rbac.example.com/aggregate-to-monitoring": "true"}},
			Rules: []rbacv1.PolicyRule{rule("get", "endpoints"), rule("get", "pods")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}, Rules: []rbacv1.PolicyRule{rule("delete", "pods")}},
	} {
		if _, err := roles.Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Roles in name order, each rule once.
	waitRules("two selected roles", rule("get", "endpoints"), rule("get", "pods"), rule("list", "pods"))
	out := c.MustRun(t, k, "", "describe", "clusterrole", "monitoring")
	// (describe merges rules of one resource.)
	if !hasLine(out, "endpoints", "[]", "[]", "[get]") || !hasLine(out, "pods", "[]", "[]", "[get", "list]") ||
		strings.Contains(out, "delete") {
		t.Fatalf("kubectl describe clusterrole monitoring:\n%s", out)
	}

	c.MustRun(t, k, "", "label", "clusterrole", "unrelated", "rbac.example.com/aggregate-to-monitoring=true")
	waitRules("a role labelled", rule("get", "endpoints"), rule("get", "pods"), rule("list", "pods"), rule("delete", "pods"))
	if err := roles.Delete(ctx, "monitoring-endpoints", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRules("a role deleted", rule("get", "pods"), rule("list", "pods"), rule("delete", "pods"))
	c.MustRun(t, k, "", "label", "clusterrole", "unrelated", "rbac.example.com/aggregate-to-monitoring-")
	waitRules("a label removed", rule("get", "pods"), rule("list", "pods"))
}
