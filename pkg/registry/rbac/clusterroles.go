package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/rbac"
	validation "github.com/skiffhq/skiff/pkg/api/validation/rbac"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(clusterRoles) }

func clusterRoles(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ClusterRole"), "clusterroles", "clusterrole", false,
		func() runtime.Object { return &rbacv1.ClusterRole{} }, func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		printers.ClusterRole())
	r.AllowCreateOnUpdate = true
	kind.Hooks[*rbacv1.ClusterRole]{
		Validate:       validation.ValidateClusterRole,
		ValidateUpdate: validation.ValidateClusterRoleUpdate,
	}.Install(r)
	return r
}
