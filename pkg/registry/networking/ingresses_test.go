package networking

import (
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// classes is a View holding ingress classes alone.
type classes []runtime.Object

func (c classes) List(gv, resource string) []runtime.Object {
	if gv != "networking.k8s.io/v1" || resource != "ingressclasses" {
		return nil
	}
	return c
}

func class(name string, created time.Time, isDefault bool) *networkingv1.IngressClass {
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: networkingv1.IngressClassSpec{Controller: "example.com/controller"}}
	if isDefault {
		ic.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
	}
	return ic
}

// TestAdmitDefaultClass: the cases of upstream's DefaultIngressClass tests.
func TestAdmitDefaultClass(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		classes classes
		ing     *networkingv1.Ingress
		want    *string
	}{
		{"the default class", classes{class("ingressclass1", t0, true), class("other", t0.Add(time.Hour), false)},
			&networkingv1.Ingress{}, ptr.To("ingressclass1")},
		{"no default class", classes{class("ingressclass1", t0, false)}, &networkingv1.Ingress{}, nil},
		{"the newer of two defaults", classes{class("ingressclass2", t0.Add(time.Second), true), class("ingressclass1", t0, true)},
			&networkingv1.Ingress{}, ptr.To("ingressclass2")},
		{"the lower name of two as new", classes{class("ingressclass2", t0, true), class("ingressclass1", t0, true)},
			&networkingv1.Ingress{}, ptr.To("ingressclass1")},
		{"a class named is kept", classes{class("ingressclass1", t0, true)},
			&networkingv1.Ingress{Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("mine")}}, ptr.To("mine")},
		{"a class annotated is kept", classes{class("ingressclass1", t0, true)},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{annotationIngressClass: "nginx"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admitDefaultClass(tt.classes, tt.ing)
			if got := tt.ing.Spec.IngressClassName; (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("ingressClassName %v, want %v", ptr.Deref(got, "<nil>"), ptr.Deref(tt.want, "<nil>"))
			}
		})
	}
}
