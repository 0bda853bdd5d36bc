package storage

import (
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/storage"
	validation "github.com/skiffhq/skiff/pkg/api/validation/storage"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(volumeAttachments) }

// volumeAttachments: the status is the attacher's report, written through
// /status only; a create's status is dropped, as upstream's strategy does.
func volumeAttachments(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("VolumeAttachment"), "volumeattachments", "volumeattachment", false,
		func() runtime.Object { return &storagev1.VolumeAttachment{} },
		func() runtime.Object { return &storagev1.VolumeAttachmentList{} },
		printers.VolumeAttachment())
	r.Status = true
	r.RequireResourceVersion = true
	r.PrepareForStatusUpdate = kind.KeepMetadataOnStatus
	kind.Hooks[*storagev1.VolumeAttachment]{
		Validate:       validation.ValidateVolumeAttachment,
		ValidateUpdate: validation.ValidateVolumeAttachmentUpdate,
	}.Install(r)
	return r
}
