package networking

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

func policy(mutate func(*networkingv1.NetworkPolicy)) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-frontend", Namespace: "default"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(5432))}},
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
			}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	if mutate != nil {
		mutate(np)
	}
	return np
}

func peer(np *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicyPeer {
	return &np.Spec.Ingress[0].From[0]
}
func port(np *networkingv1.NetworkPolicy) *networkingv1.NetworkPolicyPort {
	return &np.Spec.Ingress[0].Ports[0]
}

func TestValidateNetworkPolicy(t *testing.T) {
	const port0, peer0 = "spec.ingress[0].ports[0]", "spec.ingress[0].from[0]"
	tests := []struct {
		name   string
		mutate func(*networkingv1.NetworkPolicy)
		want   errs
	}{
		{"valid", nil, nil},
		{"deny all", func(np *networkingv1.NetworkPolicy) {
			np.Spec = networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress"}}
		}, nil},
		{"port range, named port, namespace and pod selectors, IP block", func(np *networkingv1.NetworkPolicy) {
			port(np).EndPort = ptr.To(int32(5440))
			np.Spec.Ingress[0].Ports = append(np.Spec.Ingress[0].Ports, networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromString("metrics"))})
			peer(np).NamespaceSelector = &metav1.LabelSelector{}
			np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}}}}
		}, nil},
		{"unknown protocol", func(np *networkingv1.NetworkPolicy) { port(np).Protocol = ptr.To(corev1.Protocol("ICMP")) },
			errs{notSupported(port0+".protocol", `supported values: "TCP", "UDP", "SCTP"`)}},
		{"port out of range, end before start", func(np *networkingv1.NetworkPolicy) {
			port(np).Port, port(np).EndPort = ptr.To(intstr.FromInt32(70000)), ptr.To(int32(80))
		}, errs{invalid(port0+".port", "must be between 1 and 65535, inclusive"),
			invalid(port0+".endPort", "must be greater than or equal to `port`")}},
		{"end port after a named port", func(np *networkingv1.NetworkPolicy) {
			port(np).Port, port(np).EndPort = ptr.To(intstr.FromString("http")), ptr.To(int32(80))
		}, errs{invalid(port0+".endPort", "may not be specified when `port` is non-numeric")}},
		{"end port alone", func(np *networkingv1.NetworkPolicy) { port(np).Port, port(np).EndPort = nil, ptr.To(int32(80)) },
			errs{invalid(port0+".endPort", "may not be specified when `port` is not specified")}},
		{"empty peer", func(np *networkingv1.NetworkPolicy) { *peer(np) = networkingv1.NetworkPolicyPeer{} },
			errs{required(peer0)}},
		{"IP block with a selector", func(np *networkingv1.NetworkPolicy) { peer(np).IPBlock = &networkingv1.IPBlock{CIDR: "10.0.0.0/8"} },
			errs{forbidden(peer0, "may not specify both ipBlock and another peer")}},
		{"IP block without CIDR", func(np *networkingv1.NetworkPolicy) {
			*peer(np) = networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{}}
		}, errs{required(peer0 + ".ipBlock.cidr")}},
		{"bad CIDRs", func(np *networkingv1.NetworkPolicy) {
			*peer(np) = networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.0.0.0/8", "11.0.0.0/16", "10.1.0.1/16"}}}
			np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0"}}}}}
		}, errs{invalid(peer0+".ipBlock.except[0]", "must be a strict subset of `cidr`"),
			invalid(peer0+".ipBlock.except[1]", "must be a strict subset of `cidr`"),
			invalid(peer0+".ipBlock.except[2]", "must not have bits set beyond the prefix length"),
			invalid("spec.egress[0].to[0].ipBlock.cidr", "must be a valid CIDR value")}},
		{"bad selectors", func(np *networkingv1.NetworkPolicy) {
			np.Spec.PodSelector.MatchLabels = map[string]string{"app": "no spaces"}
			peer(np).PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "In"}}
		}, errs{invalid("spec.podSelector.matchLabels", "a valid label must be"),
			required(peer0 + ".podSelector.matchExpressions[0].values")}},
		{"unknown and too many policy types", func(np *networkingv1.NetworkPolicy) {
			np.Spec.PolicyTypes = []networkingv1.PolicyType{"Ingress", "Sideways"}
		}, errs{notSupported("spec.policyTypes[1]", `supported values: "Ingress", "Egress"`)}},
		{"three policy types", func(np *networkingv1.NetworkPolicy) {
			np.Spec.PolicyTypes = []networkingv1.PolicyType{"Ingress", "Egress", "Ingress"}
		}, errs{invalid("spec.policyTypes", "may not specify more than two policyTypes")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrs(t, ValidateNetworkPolicy(policy(tt.mutate)), tt.want...)
		})
	}
}

func TestValidateNetworkPolicyUpdate(t *testing.T) {
	// A policy stored before strict parsing and label checks may keep what
	// they refuse, and be changed otherwise.
	badValue := []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"no spaces"}}}
	old := policy(func(np *networkingv1.NetworkPolicy) {
		np.Spec.PodSelector.MatchExpressions = badValue
		*peer(np) = networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "010.0.0.0/8"}}
	})
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)
	np := old.DeepCopy()
	np.Labels = map[string]string{"a": "b"}
	np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "010.0.0.0/8"}}}}}
	expectErrs(t, ValidateNetworkPolicyUpdate(np, old))

	np.Spec.Egress[0].To[0].IPBlock.CIDR = "011.0.0.0/8"
	expectErrs(t, ValidateNetworkPolicyUpdate(np, old), invalid("spec.egress[0].to[0].ipBlock.cidr", "must not have leading 0s"))

	fresh := policy(nil)
	fresh.ObjectMeta = validationtest.Stored(fresh.ObjectMeta)
	bad := fresh.DeepCopy()
	bad.Spec.PodSelector.MatchExpressions = badValue
	expectErrs(t, ValidateNetworkPolicyUpdate(bad, fresh), invalid("spec.podSelector.matchExpressions[0].values[0]", "a valid label must be"))
}
