package server

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/auth/rbac"
)

// TestRBACPolicy: the default policy exists once the server is ready, and
// each start gives the autoupdate roles and bindings back what they lost,
// keeps what a user added, and leaves autoupdate=false ones alone.
func TestRBACPolicy(t *testing.T) {
	s, stop := start(t, t.TempDir(), freePort(t))
	defer stop()
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	roles := c.RbacV1()

	crb, err := roles.ClusterRoleBindings().Get(ctx, "cluster-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if crb.RoleRef.Name != "cluster-admin" || len(crb.Subjects) != 1 || crb.Subjects[0].Name != "system:masters" {
		t.Errorf("clusterrolebinding cluster-admin: %+v %+v", crb.RoleRef, crb.Subjects)
	}
	for _, name := range []string{"admin", "edit", "view", "system:discovery", "system:node-proxier", "system:controller:replication-controller"} {
		if _, err := roles.ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("clusterrole %s: %v", name, err)
		}
	}
	if _, err := roles.Roles("kube-system").Get(ctx, "extension-apiserver-authentication-reader", metav1.GetOptions{}); err != nil {
		t.Errorf("role kube-system/extension-apiserver-authentication-reader: %v", err)
	}

	// A user drops a rule of one default role and adds one; another role is
	// marked autoupdate=false and emptied; a binding loses its subject.
	basic, err := roles.ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(basic.Rules)
	mine := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}
	basic.Rules = append(basic.Rules[1:], mine)
	if _, err := roles.ClusterRoles().Update(ctx, basic, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	disc, err := roles.ClusterRoles().Get(ctx, "system:discovery", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disc.Annotations["rbac.authorization.kubernetes.io/autoupdate"] = "false"
	disc.Rules = nil
	if _, err := roles.ClusterRoles().Update(ctx, disc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb.Subjects = nil
	if _, err := roles.ClusterRoleBindings().Update(ctx, crb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := ensureRBACPolicy(ctx, c, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	basic, _ = roles.ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	// What was dropped comes back (as upstream's reconciliation adds it: a
	// rule per missing resource), and the user's rule stays.
	if ok, missing := rbac.Covers(basic.Rules, append(want, mine)); !ok {
		t.Errorf("system:basic-user lacks %v after the reconcile: %v", missing, basic.Rules)
	}
	if disc, _ = roles.ClusterRoles().Get(ctx, "system:discovery", metav1.GetOptions{}); len(disc.Rules) != 0 {
		t.Errorf("an autoupdate=false role was changed: %v", disc.Rules)
	}
	if crb, _ = roles.ClusterRoleBindings().Get(ctx, "cluster-admin", metav1.GetOptions{}); len(crb.Subjects) != 1 {
		t.Errorf("clusterrolebinding cluster-admin's subjects not restored: %v", crb.Subjects)
	}
	// Nothing left to do: a second pass writes nothing.
	before, _ := roles.ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if err := ensureRBACPolicy(ctx, c, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	after, _ := roles.ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if before.ResourceVersion != after.ResourceVersion {
		t.Error("a reconciled role was written again")
	}
}
