package rbac

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var (
	roleRefPath  = field.NewPath("roleRef")
	subjectsPath = field.NewPath("subjects")

	// A RoleBinding grants a Role of its namespace or a ClusterRole within
	// it; a ClusterRoleBinding only a ClusterRole.
	roleBindingRoleKinds        = []string{"Role", "ClusterRole"}
	clusterRoleBindingRoleKinds = []string{"ClusterRole"}
	subjectKinds                = []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}
)

// binding is what RoleBindings and ClusterRoleBindings share.
type binding struct {
	meta     *metav1.ObjectMeta
	subjects []rbacv1.Subject
	roleRef  rbacv1.RoleRef
}

// ValidateRoleBinding validates a RoleBinding: a roleRef to a Role or
// ClusterRole of rbac.authorization.k8s.io, and its subjects.
func ValidateRoleBinding(rb *rbacv1.RoleBinding) field.ErrorList {
	return validateBinding(&binding{&rb.ObjectMeta, rb.Subjects, rb.RoleRef}, nil, true, roleBindingRoleKinds)
}

// ValidateRoleBindingUpdate validates an update of a RoleBinding: its
// roleRef may not change.
func ValidateRoleBindingUpdate(rb, old *rbacv1.RoleBinding) field.ErrorList {
	return validateBinding(&binding{&rb.ObjectMeta, rb.Subjects, rb.RoleRef},
		&binding{&old.ObjectMeta, old.Subjects, old.RoleRef}, true, roleBindingRoleKinds)
}

// ValidateClusterRoleBinding validates a ClusterRoleBinding: a roleRef to a
// ClusterRole, and its subjects, service accounts named with their
// namespace.
func ValidateClusterRoleBinding(crb *rbacv1.ClusterRoleBinding) field.ErrorList {
	return validateBinding(&binding{&crb.ObjectMeta, crb.Subjects, crb.RoleRef}, nil, false, clusterRoleBindingRoleKinds)
}

// ValidateClusterRoleBindingUpdate validates an update of a
// ClusterRoleBinding: its roleRef may not change.
func ValidateClusterRoleBindingUpdate(crb, old *rbacv1.ClusterRoleBinding) field.ErrorList {
	return validateBinding(&binding{&crb.ObjectMeta, crb.Subjects, crb.RoleRef},
		&binding{&old.ObjectMeta, old.Subjects, old.RoleRef}, false, clusterRoleBindingRoleKinds)
}

// validateBinding validates b, and its update from old when old is set.
func validateBinding(b, old *binding, namespaced bool, roleKinds []string) field.ErrorList {
	var f faults
	f.add(validation.ValidateObjectMeta(b.meta, namespaced, ValidateRBACName, metadataPath)...)

	ref := b.roleRef
	if ref.APIGroup != rbacv1.GroupName {
		f.add(field.NotSupported(roleRefPath.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	if !slices.Contains(roleKinds, ref.Kind) {
		f.add(field.NotSupported(roleRefPath.Child("kind"), ref.Kind, roleKinds))
	}
	// Upstream's declarative validation looks at the roleRef on create
	// only: an update that keeps it is not checked again, and one that
	// changes it stops at its immutability.
	var refFaults faults
	if ref.Name == "" {
		refFaults.required(roleRefPath.Child("name"), "", old == nil)
	} else {
		refFaults.add(validation.InvalidEach(roleRefPath.Child("name"), ref.Name, ValidateRBACName(ref.Name, false))...)
	}
	f.add(refFaults.handwritten...)

	// The subjects, unless an update keeps them as they were.
	subjectsDeclarative := old == nil || !equality.Semantic.DeepEqual(b.subjects, old.subjects)
	for i := range b.subjects {
		f.merge(validateSubject(&b.subjects[i], namespaced, subjectsPath.Index(i), subjectsDeclarative))
	}
	// The declarative validation goes by the fields of the v1 type:
	// subjects, then roleRef.
	f.declared = append(f.declared, refFaults.declared...)

	if old != nil {
		f.add(validation.ValidateObjectMetaUpdate(b.meta, old.meta, metadataPath)...)
		if ref != old.roleRef {
			f.add(field.Invalid(roleRefPath, shownRoleRef(ref), apimachineryvalidation.FieldImmutableErrorMsg))
		}
	}
	return f.list()
}

// shownRoleRef is a roleRef as upstream's error shows it: its internal
// type, whose fields have no JSON names.
type shownRoleRef struct{ APIGroup, Kind, Name string }

// validateSubject validates one subject: a ServiceAccount of the core
// group, named as service accounts are (and, bound cluster-wide, with its
// namespace), or a User or Group of rbac.authorization.k8s.io.
func validateSubject(s *rbacv1.Subject, namespaced bool, fldPath *field.Path, declarative bool) faults {
	var f faults
	if s.Name == "" {
		f.required(fldPath.Child("name"), "", declarative)
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			f.add(validation.InvalidEach(fldPath.Child("name"), s.Name, validation.ValidateServiceAccountName(s.Name, false))...)
		}
		if s.APIGroup != "" {
			f.add(field.NotSupported(fldPath.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			f.add(field.Required(fldPath.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != rbacv1.GroupName {
			f.add(field.NotSupported(fldPath.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		f.add(field.NotSupported(fldPath.Child("kind"), s.Kind, subjectKinds))
	}
	return f
}
