package node

import (
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	printers "github.com/skiffhq/skiff/pkg/api/printers/node"
	validation "github.com/skiffhq/skiff/pkg/api/validation/node"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(runtimeClasses) }

func runtimeClasses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("RuntimeClass"), "runtimeclasses", "runtimeclass", false,
		func() runtime.Object { return &nodev1.RuntimeClass{} }, func() runtime.Object { return &nodev1.RuntimeClassList{} },
		printers.RuntimeClass())
	// As upstream's strategy: PUT may create, and an update must name the
	// resourceVersion it read.
	r.AllowCreateOnUpdate = true
	r.RequireResourceVersion = true
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateRuntimeClass(obj.(*nodev1.RuntimeClass))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateRuntimeClassUpdate(obj.(*nodev1.RuntimeClass), old.(*nodev1.RuntimeClass))
	}
	return r
}
