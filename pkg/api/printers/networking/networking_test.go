package networking

import (
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestIngress(t *testing.T) {
	printerstest.ExpectColumns(t, Ingress(), []string{"Name", "Class", "Hosts", "Address", "Ports", "Age"})
	printerstest.CheckRows(t, Ingress(), &networkingv1.Ingress{})

	rules := func(hosts ...string) []networkingv1.IngressRule {
		var out []networkingv1.IngressRule
		for _, h := range hosts {
			out = append(out, networkingv1.IngressRule{Host: h})
		}
		return out
	}
	ing := &networkingv1.Ingress{ObjectMeta: printerstest.ObjectMeta("web", 5*time.Minute)}
	printerstest.AssertCells(t, Ingress(), ing, []interface{}{"web", "<none>", "*", "", "80", "5m"})

	ing.Spec.IngressClassName = ptr.To("nginx")
	ing.Spec.Rules = rules("foo.bar.com", "", "*.bar.com")
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"foo.bar.com"}}}
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{
		{IP: "169.1.1.2"}, {Hostname: "lb.example.com"}, {IP: "169.1.1.1", Hostname: "ignored.example.com"}, {IP: "169.1.1.2"}}
	// The address is never cut short: the server renders wide output.
	printerstest.AssertCells(t, Ingress(), ing,
		[]interface{}{"web", "nginx", "foo.bar.com,*.bar.com", "169.1.1.1,169.1.1.2,lb.example.com", "80, 443", "5m"})

	for _, tt := range []struct {
		rules []networkingv1.IngressRule
		want  string
	}{
		{rules("a", "b", "c"), "a,b,c"},
		{rules("a", "b", "c", ""), "a,b,c + 1 more..."},
		{rules("", "", "", "", "a"), "a"},
		{rules("", "a", "b", "c", "d", "e"), "a,b,c + 3 more..."},
	} {
		if got := ingressHosts(tt.rules); got != tt.want {
			t.Errorf("hosts of %v: %q, want %q", tt.rules, got, tt.want)
		}
	}
}

func TestIngressClass(t *testing.T) {
	printerstest.ExpectColumns(t, IngressClass(), []string{"Name", "Controller", "Parameters", "Age"})
	printerstest.CheckRows(t, IngressClass(), &networkingv1.IngressClass{})

	ic := &networkingv1.IngressClass{ObjectMeta: printerstest.ObjectMeta("nginx", time.Hour),
		Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}
	printerstest.AssertCells(t, IngressClass(), ic, []interface{}{"nginx", "k8s.io/ingress-nginx", "<none>", "60m"})

	ic.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
	ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"}
	printerstest.AssertCells(t, IngressClass(), ic,
		[]interface{}{"nginx (default)", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "60m"})
	ic.Spec.Parameters.APIGroup = nil
	printerstest.AssertCells(t, IngressClass(), ic, []interface{}{"nginx (default)", "k8s.io/ingress-nginx", "IngressParameters/external-lb", "60m"})
}

func TestNetworkPolicy(t *testing.T) {
	printerstest.ExpectColumns(t, NetworkPolicy(), []string{"Name", "Pod-Selector", "Age"})
	printerstest.CheckRows(t, NetworkPolicy(), &networkingv1.NetworkPolicy{})

	np := &networkingv1.NetworkPolicy{ObjectMeta: printerstest.ObjectMeta("deny-all", 2*time.Hour)}
	printerstest.AssertCells(t, NetworkPolicy(), np, []interface{}{"deny-all", "<none>", "120m"})
	np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}}}
	printerstest.AssertCells(t, NetworkPolicy(), np, []interface{}{"deny-all", "app=db,tier in (a,b)", "120m"})
}

func TestServiceCIDR(t *testing.T) {
	printerstest.ExpectColumns(t, ServiceCIDR(), []string{"Name", "CIDRs", "Age"})
	printerstest.CheckRows(t, ServiceCIDR(), &networkingv1.ServiceCIDR{})

	sc := &networkingv1.ServiceCIDR{ObjectMeta: printerstest.ObjectMeta("kubernetes", 3*24*time.Hour),
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.43.0.0/16", "fd00:43::/112"}}}
	printerstest.AssertCells(t, ServiceCIDR(), sc, []interface{}{"kubernetes", "10.43.0.0/16,fd00:43::/112", "3d"})
}

func TestIPAddress(t *testing.T) {
	printerstest.ExpectColumns(t, IPAddress(), []string{"Name", "ParentRef"})
	printerstest.CheckRows(t, IPAddress(), &networkingv1.IPAddress{})

	ip := &networkingv1.IPAddress{ObjectMeta: printerstest.ObjectMeta("10.43.0.10", time.Minute)}
	printerstest.AssertCells(t, IPAddress(), ip, []interface{}{"10.43.0.10", "<none>"})
	ip.Spec.ParentRef = &networkingv1.ParentReference{Resource: "services", Namespace: "kube-system", Name: "kube-dns"}
	printerstest.AssertCells(t, IPAddress(), ip, []interface{}{"10.43.0.10", "services/kube-system/kube-dns"})
	ip.Spec.ParentRef = &networkingv1.ParentReference{Group: "MyGroup", Resource: "MyResources", Name: "bar"}
	printerstest.AssertCells(t, IPAddress(), ip, []interface{}{"10.43.0.10", "myresources.mygroup/bar"})
}
