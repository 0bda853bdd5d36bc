package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/test/harness"
)

// userKubeconfig writes a kubeconfig for a user with a client certificate
// of the cluster's CA (CN the name, O the groups), as an admin issues one.
func userKubeconfig(t *testing.T, c *harness.Cluster, name string, groups ...string) string {
	t.Helper()
	ca, err := pki.EnsureCA(filepath.Join(c.DataDir, "server", "tls"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, err := ca.EnsureClient(dir, name, name, groups)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := pki.WriteKubeconfig(path, c.Config.Host, ca.CertPEM(), cert, key); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRBACAuthorizes: users get what their roles grant and no more, with
// upstream's Forbidden message, for every kubectl: a Role bound in one
// namespace, a group bound to the default `view` ClusterRole (filled by
// aggregation), and `kubectl auth can-i` answering from the same rules.
func TestRBACAuthorizes(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	for _, ns := range []string{"team", "other"} {
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rbac := c.Client.RbacV1()
	if _, err := rbac.Roles("team").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings("team").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-reads-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "devs-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "devs"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	alice := userKubeconfig(t, c, "alice")
	bob := userKubeconfig(t, c, "bob", "devs")

	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			as := func(kubeconfig string, args ...string) (string, string, error) {
				return c.Run(k, "", append([]string{"--kubeconfig", kubeconfig}, args...)...)
			}
			out, errOut, err := as(alice, "get", "pods", "-n", "team")
			if err != nil || !strings.Contains(out+errOut, "No resources found in team namespace.") {
				t.Errorf("alice lists pods in team: %v\n%s%s", err, out, errOut)
			}
			_, errOut, err = as(alice, "get", "pods", "-n", "other")
			const refused = `Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "other"`
			if err == nil || strings.TrimSpace(errOut) != refused {
				t.Errorf("alice lists pods in other: %v\n%s", err, errOut)
			}
			_, errOut, err = as(alice, "delete", "pod", "x", "-n", "team")
			if err == nil || !strings.Contains(errOut, `User "alice" cannot delete resource "pods" in API group "" in the namespace "team"`) {
				t.Errorf("alice deletes a pod in team: %v\n%s", err, errOut)
			}
			for _, tc := range []struct{ args, want string }{
				{"list pods -n team", "yes"},
				{"list pods -n other", "no"},
				{"create deployments -n team", "no"},
			} {
				out, _, _ := as(alice, append([]string{"auth", "can-i"}, strings.Fields(tc.args)...)...)
				if strings.TrimSpace(out) != tc.want {
					t.Errorf("alice: auth can-i %s = %q, want %s", tc.args, out, tc.want)
				}
			}
			// auth can-i --list: the rules of alice's bindings in team,
			// the Role's and the default policy's for every user.
			out, errOut, err = as(alice, "auth", "can-i", "--list", "-n", "team")
			if err != nil || !hasLine(out, "pods", "[]", "[]", "[get", "list]") || !hasLine(out, "selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]") ||
				!hasLine(out, "[/api/*]", "[]", "[get]") || strings.Contains(out, "secrets") {
				t.Errorf("alice: auth can-i --list -n team: %v\n%s%s", err, out, errOut)
			}
			// bob's group is bound to view, whose rules come from aggregation.
			deadline := time.Now().Add(10 * time.Second)
			for {
				out, errOut, err = as(bob, "get", "pods", "-n", "other")
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("bob (devs, bound to view) lists pods in other: %v\n%s", err, errOut)
			}
			if _, errOut, err := as(bob, "create", "configmap", "x", "-n", "other"); err == nil || !strings.Contains(errOut, `User "bob" cannot create resource "configmaps"`) {
				t.Errorf("bob creates a configmap: %v\n%s", err, errOut)
			}
		})
	}
}

// TestRBACEscalation: a user who may write roles and bindings may grant only
// what they hold, with upstream's message; "escalate" and "bind" lift that.
func TestRBACEscalation(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rbac := c.Client.RbacV1()
	manager := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "role-manager"},
		Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"create", "get", "list", "update"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"}},
			{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}},
		},
	}
	if _, err := rbac.Roles("team").Create(ctx, manager, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(name, role string, kind string, user string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: user}},
		}
	}
	if _, err := rbac.RoleBindings("team").Create(ctx, bind("carol-manages", "role-manager", "Role", "carol"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", userKubeconfig(t, c, "carol"))
	if err != nil {
		t.Fatal(err)
	}
	carol := kubernetes.NewForConfigOrDie(cfg).RbacV1()

	role := func(name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	}
	secrets := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}
	pods := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}

	_, err = carol.Roles("team").Create(ctx, role("sneaky", secrets), metav1.CreateOptions{})
	const want = `roles.rbac.authorization.k8s.io "sneaky" is forbidden: user "carol" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("a role with rules carol lacks: %v\nwant %s", err, want)
	}
	if _, err := carol.Roles("team").Create(ctx, role("fine", pods), metav1.CreateOptions{}); err != nil {
		t.Errorf("a role with rules carol holds: %v", err)
	}
	if _, err := carol.RoleBindings("team").Create(ctx, bind("dave-fine", "fine", "Role", "dave"), metav1.CreateOptions{}); err != nil {
		t.Errorf("binding a role carol holds: %v", err)
	}
	_, err = carol.RoleBindings("team").Create(ctx, bind("carol-admin", "cluster-admin", "ClusterRole", "carol"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `rolebindings.rbac.authorization.k8s.io "carol-admin" is forbidden: user "carol" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`) {
		t.Errorf("binding cluster-admin: %v", err)
	}
	_, err = carol.RoleBindings("team").Create(ctx, bind("to-nothing", "missing", "Role", "dave"), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("binding a role that does not exist: %v", err)
	}

	// "escalate" on roles and "bind" on the cluster-admin ClusterRole lift the checks.
	manager.Rules = append(manager.Rules,
		rbacv1.PolicyRule{Verbs: []string{"escalate"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles"}},
		rbacv1.PolicyRule{Verbs: []string{"bind"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, ResourceNames: []string{"cluster-admin"}})
	if _, err := rbac.Roles("team").Update(ctx, manager, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = carol.Roles("team").Create(ctx, role("sneaky", secrets), metav1.CreateOptions{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("with escalate: %v", err)
	}
	if _, err := carol.RoleBindings("team").Create(ctx, bind("carol-admin", "cluster-admin", "ClusterRole", "carol"), metav1.CreateOptions{}); err != nil {
		t.Errorf("with bind on cluster-admin: %v", err)
	}
}

// TestSubjectAccessReviews: an admin asks what another user may do, for the
// cluster and within a namespace; a user without the right may not ask.
func TestSubjectAccessReviews(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().Roles("team").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().RoleBindings("team").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	az := c.Client.AuthorizationV1()
	ask := func(ns string) authorizationv1.SubjectAccessReviewSpec {
		return authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Resource: "pods"}}
	}
	var got authorizationv1.SubjectAccessReviewStatus
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !got.Allowed {
		sar, err := az.SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: ask("team")}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = sar.Status
		time.Sleep(20 * time.Millisecond)
	}
	if !got.Allowed || got.Reason != `RBAC: allowed by RoleBinding "alice/team" of Role "pod-reader" to User "alice"` {
		t.Errorf("alice lists pods in team: %+v", got)
	}
	sar, err := az.SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: ask("other")}, metav1.CreateOptions{})
	if err != nil || sar.Status.Allowed {
		t.Errorf("alice lists pods in other: %v %+v", err, sar)
	}
	local, err := az.LocalSubjectAccessReviews("team").Create(ctx, &authorizationv1.LocalSubjectAccessReview{Spec: ask("team")}, metav1.CreateOptions{})
	if err != nil || !local.Status.Allowed {
		t.Errorf("a local review in team: %v %+v", err, local)
	}
	_, err = az.LocalSubjectAccessReviews("team").Create(ctx, &authorizationv1.LocalSubjectAccessReview{Spec: ask("other")}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.resourceAttributes.namespace: Invalid value: "other": must match metadata.namespace`) {
		t.Errorf("a local review of another namespace: %v", err)
	}
	_, err = az.SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods"}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.user: Invalid value: \"\": at least one of user or group must be specified") {
		t.Errorf("a review of nobody: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", userKubeconfig(t, c, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = kubernetes.NewForConfigOrDie(cfg).AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: ask("team")}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("alice asks about herself through a SubjectAccessReview: %v", err)
	}
}

// TestImpersonation: kubectl --as and --as-group act as another user when
// the caller may impersonate them (the admin may), and are refused with
// upstream's message otherwise.
func TestImpersonation(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().RoleBindings("team").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "devs-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "devs"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bob := userKubeconfig(t, c, "bob")
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			run := func(args ...string) (string, string, error) { return c.Run(k, "", args...) }
			var out, errOut string
			var err error
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if out, _, _ = run("auth", "can-i", "delete", "pods", "-n", "team", "--as", "alice", "--as-group", "devs"); strings.TrimSpace(out) == "yes" {
					break
				}
			}
			if strings.TrimSpace(out) != "yes" {
				t.Errorf("--as alice --as-group devs: can-i delete pods -n team = %q", out)
			}
			if out, _, _ = run("auth", "can-i", "delete", "pods", "-n", "team", "--as", "alice"); strings.TrimSpace(out) != "no" {
				t.Errorf("--as alice: can-i delete pods -n team = %q", out)
			}
			_, errOut, err = run("get", "pods", "-n", "team", "--as", "alice")
			if err == nil || !strings.Contains(errOut, `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "team"`) {
				t.Errorf("get pods --as alice: %v\n%s", err, errOut)
			}
			// kubectl auth whoami (authentication.k8s.io/v1 from kubectl 1.28).
			if k.Version != "1.27" {
				out, errOut, err = run("auth", "whoami", "--as", "alice", "--as-group", "devs")
				if err != nil || !hasLine(out, "Username", "alice") || !hasLine(out, "Groups", "[devs", "system:authenticated]") {
					t.Errorf("auth whoami --as alice: %v\n%s%s", err, out, errOut)
				}
				out, errOut, err = run("auth", "whoami")
				if err != nil || !hasLine(out, "Username", "system:admin") || !hasLine(out, "Groups", "[system:masters", "system:authenticated]") {
					t.Errorf("auth whoami: %v\n%s%s", err, out, errOut)
				}
			}
			_, errOut, err = run("--kubeconfig", bob, "get", "pods", "-n", "team", "--as", "alice")
			if err == nil || !strings.Contains(errOut, `users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope`) {
				t.Errorf("bob impersonating alice: %v\n%s", err, errOut)
			}
		})
	}
	// A uid and extras are impersonated too, and shown as the user's.
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "alice", UID: "alice-uid-1", Groups: []string{"devs"},
		Extra: map[string][]string{"scopes.example.com/team": {"blue", "green"}}}
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != "alice" || u.UID != "alice-uid-1" ||
		strings.Join(u.Extra["scopes.example.com/team"], ",") != "blue,green" {
		t.Errorf("impersonated uid and extras: %+v", u)
	}
}
