package storage

import (
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/storage"
	validation "github.com/skiffhq/skiff/pkg/api/validation/storage"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(volumeAttributesClasses) }

func volumeAttributesClasses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("VolumeAttributesClass"), "volumeattributesclasses", "volumeattributesclass", false,
		func() runtime.Object { return &storagev1.VolumeAttributesClass{} },
		func() runtime.Object { return &storagev1.VolumeAttributesClassList{} },
		printers.VolumeAttributesClass())
	r.ShortNames = []string{"vac"}
	kind.Hooks[*storagev1.VolumeAttributesClass]{
		Validate:       validation.ValidateVolumeAttributesClass,
		ValidateUpdate: validation.ValidateVolumeAttributesClassUpdate,
	}.Install(r)
	return r
}
