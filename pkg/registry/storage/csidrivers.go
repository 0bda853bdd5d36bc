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

func init() { kinds.Add(csiDrivers) }

func csiDrivers(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("CSIDriver"), "csidrivers", "csidriver", false,
		func() runtime.Object { return &storagev1.CSIDriver{} }, func() runtime.Object { return &storagev1.CSIDriverList{} },
		printers.CSIDriver())
	// As upstream's strategy: an update must name the resourceVersion it read.
	r.RequireResourceVersion = true
	kind.Hooks[*storagev1.CSIDriver]{
		Default:        defaults.CSIDriver,
		Validate:       validation.ValidateCSIDriver,
		ValidateUpdate: validation.ValidateCSIDriverUpdate,
		Desired:        func(d *storagev1.CSIDriver) any { return d.Spec },
	}.Install(r)
	return r
}
