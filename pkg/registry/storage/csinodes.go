package storage

import (
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/storage"
	validation "github.com/skiffhq/skiff/pkg/api/validation/storage"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(csiNodes) }

func csiNodes(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("CSINode"), "csinodes", "csinode", false,
		func() runtime.Object { return &storagev1.CSINode{} }, func() runtime.Object { return &storagev1.CSINodeList{} },
		printers.CSINode())
	r.Status = true
	r.RequireResourceVersion = true
	r.PrepareForStatusUpdate = kind.KeepMetadataOnStatus
	kind.Hooks[*storagev1.CSINode]{
		Validate:             validation.ValidateCSINode,
		ValidateUpdate:       validation.ValidateCSINodeUpdate,
		ValidateStatusUpdate: validation.ValidateCSINodeStatusUpdate,
	}.Install(r)
	return r
}
