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

func init() { kinds.Add(clusterRoleBindings) }

func clusterRoleBindings(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ClusterRoleBinding"), "clusterrolebindings", "clusterrolebinding", false,
		func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }, func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		printers.ClusterRoleBinding())
	r.AllowCreateOnUpdate = true
	kind.Hooks[*rbacv1.ClusterRoleBinding]{
		Default:        defaults.ClusterRoleBinding,
		Validate:       validation.ValidateClusterRoleBinding,
		ValidateUpdate: validation.ValidateClusterRoleBindingUpdate,
	}.Install(r)
	return r
}
