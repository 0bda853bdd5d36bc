package rbac

import (
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// Role prints NAME and CREATED AT: upstream has no printer for roles, and
// kube-apiserver serves them with its default columns.
func Role() printers.Printer { return printers.Default() }

// ClusterRole prints NAME and CREATED AT, as Role.
func ClusterRole() printers.Printer { return printers.Default() }

// RoleBinding prints NAME, ROLE (kind/name) and AGE, and for -o wide the
// USERS, GROUPS and SERVICEACCOUNTS bound.
func RoleBinding() printers.Printer {
	return printers.New(bindingColumns(rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"], "roleBinding"),
		func(rb *rbacv1.RoleBinding, now time.Time) []interface{} {
			return bindingCells(rb.ObjectMeta, rb.RoleRef, rb.Subjects, now)
		})
}

// ClusterRoleBinding prints the columns of RoleBinding.
func ClusterRoleBinding() printers.Printer {
	return printers.New(bindingColumns(rbacv1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"], "clusterRoleBinding"),
		func(crb *rbacv1.ClusterRoleBinding, now time.Time) []interface{} {
			return bindingCells(crb.ObjectMeta, crb.RoleRef, crb.Subjects, now)
		})
}

func bindingColumns(roleRefDoc, kind string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Role", Type: "string", Description: roleRefDoc},
		printers.AgeColumn(),
		{Name: "Users", Type: "string", Priority: 1, Description: "Users in the " + kind},
		{Name: "Groups", Type: "string", Priority: 1, Description: "Groups in the " + kind},
		{Name: "ServiceAccounts", Type: "string", Priority: 1, Description: "ServiceAccounts in the " + kind},
	}
}

// bindingCells lists the subjects of each kind, service accounts as
// namespace/name; upstream leaves subjects of any other kind out.
func bindingCells(m metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, now time.Time) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		}
	}
	return []interface{}{m.Name, fmt.Sprintf("%s/%s", ref.Kind, ref.Name), printers.Age(m, now),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}
