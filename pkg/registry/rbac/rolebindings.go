package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/rbac"
	printers "github.com/skiffhq/skiff/pkg/api/printers/rbac"
	validation "github.com/skiffhq/skiff/pkg/api/validation/rbac"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(roleBindings) }

func roleBindings(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("RoleBinding"), "rolebindings", "rolebinding", true,
		func() runtime.Object { return &rbacv1.RoleBinding{} }, func() runtime.Object { return &rbacv1.RoleBindingList{} },
		printers.RoleBinding())
	r.AllowCreateOnUpdate = true
	kind.Hooks[*rbacv1.RoleBinding]{
		Default:        defaults.RoleBinding,
		Validate:       validation.ValidateRoleBinding,
		ValidateUpdate: validation.ValidateRoleBindingUpdate,
	}.Install(r)
	return r
}
