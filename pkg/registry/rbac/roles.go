package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/rbac"
	validation "github.com/skiffhq/skiff/pkg/api/validation/rbac"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(roles) }

func roles(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Role"), "roles", "role", true,
		func() runtime.Object { return &rbacv1.Role{} }, func() runtime.Object { return &rbacv1.RoleList{} },
		printers.Role())
	// As upstream, for every kind of the group: a PUT may create the
	// object, and the generation is not tracked.
	r.AllowCreateOnUpdate = true
	kind.Hooks[*rbacv1.Role]{
		Validate:       validation.ValidateRole,
		ValidateUpdate: validation.ValidateRoleUpdate,
	}.Install(r)
	return r
}
