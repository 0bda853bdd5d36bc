package storage

import (
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/storage"
	printers "github.com/skiffhq/skiff/pkg/api/printers/storage"
	validation "github.com/skiffhq/skiff/pkg/api/validation/storage"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(storageClasses) }

func storageClasses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("StorageClass"), "storageclasses", "storageclass", false,
		func() runtime.Object { return &storagev1.StorageClass{} }, func() runtime.Object { return &storagev1.StorageClassList{} },
		printers.StorageClass())
	r.ShortNames = []string{"sc"}
	kind.Hooks[*storagev1.StorageClass]{
		Default:        defaults.StorageClass,
		Validate:       validation.ValidateStorageClass,
		ValidateUpdate: validation.ValidateStorageClassUpdate,
	}.Install(r)
	return r
}
