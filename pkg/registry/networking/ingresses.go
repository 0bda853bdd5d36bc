package networking

import (
	"context"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/networking"
	validation "github.com/skiffhq/skiff/pkg/api/validation/networking"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

// annotationIngressClass is the class an Ingress named before
// spec.ingressClassName existed; an Ingress that has it has a class.
const annotationIngressClass = "kubernetes.io/ingress.class"

func init() { kinds.Add(ingresses) }

// ingresses: the status is the ingress controller's report, written through
// /status, which may also change the metadata, as upstream's strategy allows.
func ingresses(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Ingress"), "ingresses", "ingress", true,
		func() runtime.Object { return &networkingv1.Ingress{} }, func() runtime.Object { return &networkingv1.IngressList{} },
		printers.Ingress())
	r.ShortNames = []string{"ing"}
	r.Status = true
	r.Admit = func(_ context.Context, v apiserver.View, obj runtime.Object) error {
		admitDefaultClass(v, obj.(*networkingv1.Ingress))
		return nil
	}
	kind.Hooks[*networkingv1.Ingress]{
		Validate:             validation.ValidateIngress,
		ValidateUpdate:       validation.ValidateIngressUpdate,
		ValidateStatusUpdate: validation.ValidateIngressStatusUpdate,
		Desired:              func(ing *networkingv1.Ingress) any { return &ing.Spec },
	}.Install(r)
	return r
}

// admitDefaultClass is upstream's DefaultIngressClass admission: a new
// Ingress that names no class gets the default one, the newest class
// annotated as default (by name when two are as new), or none.
func admitDefaultClass(v apiserver.View, ing *networkingv1.Ingress) {
	if ing.Spec.IngressClassName != nil {
		return
	}
	if _, ok := ing.Annotations[annotationIngressClass]; ok {
		return
	}
	var def *networkingv1.IngressClass
	for _, obj := range v.List(v1.String(), "ingressclasses") {
		ic, ok := obj.(*networkingv1.IngressClass)
		if !ok || ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] != "true" {
			continue
		}
		if def == nil || newerClass(ic, def) {
			def = ic
		}
	}
	if def != nil {
		name := def.Name
		ing.Spec.IngressClassName = &name
	}
}

func newerClass(a, b *networkingv1.IngressClass) bool {
	if ta, tb := a.CreationTimestamp.UnixNano(), b.CreationTimestamp.UnixNano(); ta != tb {
		return ta > tb
	}
	return strings.Compare(a.Name, b.Name) < 0
}
