package networking

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/networking"
	printers "github.com/skiffhq/skiff/pkg/api/printers/networking"
	validation "github.com/skiffhq/skiff/pkg/api/validation/networking"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(networkPolicies) }

// networkPolicies are stored and served only: nothing in Skiff enforces them.
func networkPolicies(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("NetworkPolicy"), "networkpolicies", "networkpolicy", true,
		func() runtime.Object { return &networkingv1.NetworkPolicy{} }, func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
		printers.NetworkPolicy())
	r.ShortNames = []string{"netpol"}
	kind.Hooks[*networkingv1.NetworkPolicy]{
		Default:        defaults.NetworkPolicy,
		Validate:       validation.ValidateNetworkPolicy,
		ValidateUpdate: validation.ValidateNetworkPolicyUpdate,
		Desired:        func(np *networkingv1.NetworkPolicy) any { return &np.Spec },
	}.Install(r)
	return r
}
