package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(endpoints) }

func endpoints(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Endpoints"), "endpoints", "endpoints", true,
		func() runtime.Object { return &corev1.Endpoints{} }, func() runtime.Object { return &corev1.EndpointsList{} },
		printers.Endpoints())
	r.ShortNames = []string{"ep"}
	r.AllowCreateOnUpdate = true
	r.Default = func(obj runtime.Object) { defaults.Endpoints(obj.(*corev1.Endpoints)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateEndpoints(obj.(*corev1.Endpoints)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateEndpointsUpdate(obj.(*corev1.Endpoints), old.(*corev1.Endpoints))
	}
	return r
}
