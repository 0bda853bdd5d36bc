package resource

import (
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/resource"
	validation "github.com/skiffhq/skiff/pkg/api/validation/resource"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(deviceClasses) }

func deviceClasses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("DeviceClass"), "deviceclasses", "deviceclass", false,
		func() runtime.Object { return &resourcev1.DeviceClass{} }, func() runtime.Object { return &resourcev1.DeviceClassList{} },
		printers.DeviceClass())
	kind.Hooks[*resourcev1.DeviceClass]{
		Validate:       validation.ValidateDeviceClass,
		ValidateUpdate: validation.ValidateDeviceClassUpdate,
		Desired:        func(c *resourcev1.DeviceClass) any { return c.Spec },
	}.Install(r)
	return r
}
