package networking

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/networking"
	validation "github.com/skiffhq/skiff/pkg/api/validation/networking"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(serviceCIDRs) }

// serviceCIDRs: the status is the controllers' (whether a range is ready),
// written through /status only, which keeps the metadata users own, as
// upstream's status strategy does; a create's status is dropped.
func serviceCIDRs(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ServiceCIDR"), "servicecidrs", "servicecidr", false,
		func() runtime.Object { return &networkingv1.ServiceCIDR{} }, func() runtime.Object { return &networkingv1.ServiceCIDRList{} },
		printers.ServiceCIDR())
	r.Status = true
	r.PrepareForStatusUpdate = kind.KeepMetadataOnStatus
	kind.Hooks[*networkingv1.ServiceCIDR]{
		Validate:             validation.ValidateServiceCIDR,
		ValidateUpdate:       validation.ValidateServiceCIDRUpdate,
		ValidateStatusUpdate: validation.ValidateServiceCIDRStatusUpdate,
	}.Install(r)
	return r
}
