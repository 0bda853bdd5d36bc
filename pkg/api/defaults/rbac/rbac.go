package rbac

import rbacv1 "k8s.io/api/rbac/v1"

// RoleBinding defaults a RoleBinding's roleRef and subjects.
func RoleBinding(rb *rbacv1.RoleBinding) {
	defaultBinding(&rb.RoleRef, rb.Subjects)
}

// ClusterRoleBinding defaults a ClusterRoleBinding's roleRef and subjects.
func ClusterRoleBinding(crb *rbacv1.ClusterRoleBinding) {
	defaultBinding(&crb.RoleRef, crb.Subjects)
}

func defaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		// A ServiceAccount belongs to the core group, whose name is "".
		if s := &subjects[i]; s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}
