package coordination

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	printers "github.com/skiffhq/skiff/pkg/api/printers/coordination"
	validation "github.com/skiffhq/skiff/pkg/api/validation/coordination"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(leases) }

func leases(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Lease"), "leases", "lease", true,
		func() runtime.Object { return &coordinationv1.Lease{} }, func() runtime.Object { return &coordinationv1.LeaseList{} },
		printers.Lease())
	r.AllowCreateOnUpdate = true
	r.RequireResourceVersion = true
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateLease(obj.(*coordinationv1.Lease)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateLeaseUpdate(obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease))
	}
	return r
}
