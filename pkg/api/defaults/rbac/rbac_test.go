package rbac

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestBindings: the roleRef's group and the group of users and groups are
// filled in, a service account's stays the core group, and what was given
// is kept.
func TestBindings(t *testing.T) {
	subjects := func() []rbacv1.Subject {
		return []rbacv1.Subject{
			{Kind: "User", Name: "alice"},
			{Kind: "Group", Name: "devs"},
			{Kind: "ServiceAccount", Name: "default", Namespace: "ns"},
			{Kind: "User", Name: "bob", APIGroup: "example.com"},
			{Kind: "Robot", Name: "r2"},
		}
	}
	want := []rbacv1.Subject{
		{Kind: "User", Name: "alice", APIGroup: "rbac.authorization.k8s.io"},
		{Kind: "Group", Name: "devs", APIGroup: "rbac.authorization.k8s.io"},
		{Kind: "ServiceAccount", Name: "default", Namespace: "ns"},
		{Kind: "User", Name: "bob", APIGroup: "example.com"},
		{Kind: "Robot", Name: "r2"},
	}

	rb := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"}, Subjects: subjects()}
	RoleBinding(rb)
	if rb.RoleRef.APIGroup != "rbac.authorization.k8s.io" || !reflect.DeepEqual(rb.Subjects, want) {
		t.Errorf("RoleBinding defaulted to %+v, %+v", rb.RoleRef, rb.Subjects)
	}
	again := rb.DeepCopy()
	RoleBinding(again)
	if !reflect.DeepEqual(again, rb) {
		t.Errorf("defaulting twice changed %+v to %+v", rb, again)
	}

	crb := &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: "example.com", Kind: "ClusterRole", Name: "r"}, Subjects: subjects()}
	ClusterRoleBinding(crb)
	if crb.RoleRef.APIGroup != "example.com" || !reflect.DeepEqual(crb.Subjects, want) {
		t.Errorf("ClusterRoleBinding defaulted to %+v, %+v", crb.RoleRef, crb.Subjects)
	}
}
