package discovery

import (
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/discovery"
	printers "github.com/skiffhq/skiff/pkg/api/printers/discovery"
	validation "github.com/skiffhq/skiff/pkg/api/validation/discovery"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(endpointSlices) }

func endpointSlices(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("EndpointSlice"), "endpointslices", "endpointslice", true,
		func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		printers.EndpointSlice())
	r.Default = func(obj runtime.Object) { defaults.EndpointSlice(obj.(*discoveryv1.EndpointSlice)) }
	r.SpecChanged = func(obj, old runtime.Object) bool {
		n, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
		return !equality.Semantic.DeepEqual(n.Endpoints, o.Endpoints) || !equality.Semantic.DeepEqual(n.Ports, o.Ports) || n.AddressType != o.AddressType
	}
	r.Validate = func(obj runtime.Object) field.ErrorList {
		return validation.ValidateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
	}
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateEndpointSliceUpdate(obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice))
	}
	return r
}
