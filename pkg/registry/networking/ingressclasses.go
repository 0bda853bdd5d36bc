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

func init() { kinds.Add(ingressClasses) }

func ingressClasses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("IngressClass"), "ingressclasses", "ingressclass", false,
		func() runtime.Object { return &networkingv1.IngressClass{} }, func() runtime.Object { return &networkingv1.IngressClassList{} },
		printers.IngressClass())
	kind.Hooks[*networkingv1.IngressClass]{
		Default:        defaults.IngressClass,
		Validate:       validation.ValidateIngressClass,
		ValidateUpdate: validation.ValidateIngressClassUpdate,
		Desired:        func(ic *networkingv1.IngressClass) any { return &ic.Spec },
	}.Install(r)
	return r
}
