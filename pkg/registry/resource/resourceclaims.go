package resource

import (
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/resource"
	printers "github.com/skiffhq/skiff/pkg/api/printers/resource"
	validation "github.com/skiffhq/skiff/pkg/api/validation/resource"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(resourceClaims) }

// resourceClaims: the status (allocation, reservations) is the scheduler's
// and the drivers', written through /status only.
func resourceClaims(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ResourceClaim"), "resourceclaims", "resourceclaim", true,
		func() runtime.Object { return &resourcev1.ResourceClaim{} }, func() runtime.Object { return &resourcev1.ResourceClaimList{} },
		printers.ResourceClaim())
	r.Status = true
	r.PrepareForStatusUpdate = kind.KeepMetadataOnStatus
	kind.Hooks[*resourcev1.ResourceClaim]{
		Default:              defaults.ResourceClaim,
		Validate:             validation.ValidateResourceClaim,
		ValidateUpdate:       validation.ValidateResourceClaimUpdate,
		ValidateStatusUpdate: validation.ValidateResourceClaimStatusUpdate,
	}.Install(r)
	return r
}
