package networking

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/networking"
	validation "github.com/skiffhq/skiff/pkg/api/validation/networking"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(ipAddresses) }

func ipAddresses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("IPAddress"), "ipaddresses", "ipaddress", false,
		func() runtime.Object { return &networkingv1.IPAddress{} }, func() runtime.Object { return &networkingv1.IPAddressList{} },
		printers.IPAddress())
	r.ShortNames = []string{"ip"}
	kind.Hooks[*networkingv1.IPAddress]{
		Validate:       validation.ValidateIPAddress,
		ValidateUpdate: validation.ValidateIPAddressUpdate,
	}.Install(r)
	return r
}
