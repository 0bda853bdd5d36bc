package rbac

import (
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestRoles(t *testing.T) {
	role := &rbacv1.Role{ObjectMeta: printerstest.ObjectMeta("reader", 5*time.Hour)}
	p := Role()
	printerstest.ExpectColumns(t, p, []string{"Name", "Created At"})
	printerstest.CheckRows(t, p, &rbacv1.Role{})
	printerstest.AssertCells(t, p, role, []interface{}{"reader", "2025-03-14T07:00:00Z"})

	cr := &rbacv1.ClusterRole{ObjectMeta: printerstest.ObjectMeta("admin", time.Hour)}
	p = ClusterRole()
	printerstest.ExpectColumns(t, p, []string{"Name", "Created At"})
	printerstest.CheckRows(t, p, &rbacv1.ClusterRole{})
	printerstest.AssertCells(t, p, cr, []interface{}{"admin", "2025-03-14T11:00:00Z"})
}

var subjects = []rbacv1.Subject{
	{Kind: "User", Name: "alice"},
	{Kind: "ServiceAccount", Name: "builder", Namespace: "ci"},
	{Kind: "Group", Name: "devs"},
	{Kind: "User", Name: "bob"},
	{Kind: "ServiceAccount", Name: "default", Namespace: "web"},
	{Kind: "Robot", Name: "r2"},
}

func TestRoleBinding(t *testing.T) {
	p := RoleBinding()
	printerstest.ExpectColumns(t, p, []string{"Name", "Role", "Age", "Users*", "Groups*", "ServiceAccounts*"})
	printerstest.CheckRows(t, p, &rbacv1.RoleBinding{})

	rb := &rbacv1.RoleBinding{ObjectMeta: printerstest.ObjectMeta("read-pods", 90*time.Minute),
		RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "pod-reader"}, Subjects: subjects}
	printerstest.AssertCells(t, p, rb, []interface{}{"read-pods", "Role/pod-reader", "90m", "alice, bob", "devs", "ci/builder, web/default"})
	printerstest.AssertCells(t, p, &rbacv1.RoleBinding{ObjectMeta: printerstest.ObjectMeta("empty", time.Minute),
		RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}}, []interface{}{"empty", "ClusterRole/view", "60s", "", "", ""})
}

func TestClusterRoleBinding(t *testing.T) {
	p := ClusterRoleBinding()
	printerstest.ExpectColumns(t, p, []string{"Name", "Role", "Age", "Users*", "Groups*", "ServiceAccounts*"})
	printerstest.CheckRows(t, p, &rbacv1.ClusterRoleBinding{})

	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: printerstest.ObjectMeta("admins", 3*24*time.Hour),
		RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}, Subjects: subjects}
	printerstest.AssertCells(t, p, crb, []interface{}{"admins", "ClusterRole/cluster-admin", "3d", "alice, bob", "devs", "ci/builder, web/default"})
}
