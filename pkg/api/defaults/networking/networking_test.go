package networking

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestNetworkPolicy(t *testing.T) {
	port := intstr.FromInt32(80)
	udp := ptr.To(corev1.ProtocolUDP)
	tests := []struct {
		name      string
		spec      networkingv1.NetworkPolicySpec
		wantTypes []networkingv1.PolicyType
	}{
		{"no rules isolates ingress", networkingv1.NetworkPolicySpec{}, []networkingv1.PolicyType{"Ingress"}},
		{"ingress rules", networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{}}},
			[]networkingv1.PolicyType{"Ingress"}},
		{"egress rules add Egress", networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
			[]networkingv1.PolicyType{"Ingress", "Egress"}},
		{"given types are kept", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Egress"}},
			[]networkingv1.PolicyType{"Egress"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			np := &networkingv1.NetworkPolicy{Spec: tt.spec}
			NetworkPolicy(np)
			if !apiequality.Semantic.DeepEqual(np.Spec.PolicyTypes, tt.wantTypes) {
				t.Errorf("policyTypes %v, want %v", np.Spec.PolicyTypes, tt.wantTypes)
			}
		})
	}

	np := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}, {Protocol: udp}}}},
		Egress:  []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}},
	}}
	NetworkPolicy(np)
	in, out := np.Spec.Ingress[0].Ports, np.Spec.Egress[0].Ports
	if *in[0].Protocol != corev1.ProtocolTCP || *in[1].Protocol != corev1.ProtocolUDP || *out[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("protocols %v %v %v, want TCP UDP TCP", *in[0].Protocol, *in[1].Protocol, *out[0].Protocol)
	}
}

func TestIngressClass(t *testing.T) {
	ic := &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{
		Controller: "example.com/controller", Parameters: &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n"}}}
	IngressClass(ic)
	if s := ic.Spec.Parameters.Scope; s == nil || *s != networkingv1.IngressClassParametersReferenceScopeCluster {
		t.Errorf("scope %v, want Cluster", s)
	}
	ns := &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{
		Scope: ptr.To(networkingv1.IngressClassParametersReferenceScopeNamespace)}}}
	IngressClass(ns)
	if *ns.Spec.Parameters.Scope != networkingv1.IngressClassParametersReferenceScopeNamespace {
		t.Errorf("a given scope was replaced: %v", *ns.Spec.Parameters.Scope)
	}
	none := &networkingv1.IngressClass{}
	IngressClass(none)
	if none.Spec.Parameters != nil {
		t.Errorf("parameters made up: %+v", none.Spec.Parameters)
	}
}
