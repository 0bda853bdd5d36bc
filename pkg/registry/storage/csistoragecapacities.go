package storage

import (
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	printers "github.com/skiffhq/skiff/pkg/api/printers/storage"
	validation "github.com/skiffhq/skiff/pkg/api/validation/storage"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(csiStorageCapacities) }

func csiStorageCapacities(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("CSIStorageCapacity"), "csistoragecapacities", "csistoragecapacity", true,
		func() runtime.Object { return &storagev1.CSIStorageCapacity{} },
		func() runtime.Object { return &storagev1.CSIStorageCapacityList{} },
		printers.CSIStorageCapacity())
	r.RequireResourceVersion = true
	kind.Hooks[*storagev1.CSIStorageCapacity]{
		Validate: func(c *storagev1.CSIStorageCapacity) field.ErrorList {
			return validation.ValidateCSIStorageCapacity(c, false)
		},
		ValidateUpdate: validation.ValidateCSIStorageCapacityUpdate,
	}.Install(r)
	return r
}
