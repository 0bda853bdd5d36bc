package resource

import (
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/resource"
	printers "github.com/skiffhq/skiff/pkg/api/printers/resource"
	validation "github.com/skiffhq/skiff/pkg/api/validation/resource"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(resourceSlices) }

// resourceSlices are selectable by node, driver and pool, as upstream's: a
// kubelet and a driver each list only their own.
func resourceSlices(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ResourceSlice"), "resourceslices", "resourceslice", false,
		func() runtime.Object { return &resourcev1.ResourceSlice{} }, func() runtime.Object { return &resourcev1.ResourceSliceList{} },
		printers.ResourceSlice())
	r.Fields = func(obj runtime.Object) fields.Set {
		s := obj.(*resourcev1.ResourceSlice)
		node := ""
		if s.Spec.NodeName != nil {
			node = *s.Spec.NodeName
		}
		return fields.Set{
			resourcev1.ResourceSliceSelectorNodeName: node,
			resourcev1.ResourceSliceSelectorDriver:   s.Spec.Driver,
			"spec.pool.name":                         s.Spec.Pool.Name,
		}
	}
	kind.Hooks[*resourcev1.ResourceSlice]{
		Default:        defaults.ResourceSlice,
		Validate:       validation.ValidateResourceSlice,
		ValidateUpdate: validation.ValidateResourceSliceUpdate,
		Desired:        func(s *resourcev1.ResourceSlice) any { return s.Spec },
	}.Install(r)
	return r
}
