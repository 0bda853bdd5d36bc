package networking

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// maxHosts is how many hosts the HOSTS column names before "+ N more...".
const maxHosts = 3

// Ingress prints NAME, CLASS, HOSTS, ADDRESS (the load balancer's IPs or
// hostnames), PORTS (80, and 443 with TLS) and AGE.
func Ingress() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Class", Type: "string", Description: "The name of the IngressClass resource that should be used for additional configuration"},
		{Name: "Hosts", Type: "string", Description: "Hosts that incoming requests are matched against before the ingress rule"},
		{Name: "Address", Type: "string", Description: "Address is a list containing ingress points for the load-balancer"},
		{Name: "Ports", Type: "string", Description: "Ports of TLS configurations that open"},
		printers.AgeColumn(),
	}, func(ing *networkingv1.Ingress, now time.Time) []interface{} {
		class := "<none>"
		if ing.Spec.IngressClassName != nil {
			class = *ing.Spec.IngressClassName
		}
		ports := "80"
		if len(ing.Spec.TLS) > 0 {
			ports = "80, 443"
		}
		return []interface{}{ing.Name, class, ingressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer), ports,
			printers.Age(ing.ObjectMeta, now)}
	})
}

// ingressHosts names the first three hosts the rules give ("*" when none
// gives one) and, if rules follow them, counts the rules beyond three, as
// upstream does.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == maxHosts {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	out := strings.Join(hosts, ",")
	if more {
		out += fmt.Sprintf(" + %d more...", len(rules)-maxHosts)
	}
	return out
}

// ingressAddress lists each ingress point's IP, or its hostname when it has
// no IP, sorted and without duplicates. Upstream cuts it to 16 characters
// only for narrow output, which the server never produces.
func ingressAddress(lb networkingv1.IngressLoadBalancerStatus) string {
	var out []string
	for _, in := range lb.Ingress {
		if v := cmp.Or(in.IP, in.Hostname); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ",")
}

// IngressClass prints NAME (with " (default)" for the default class),
// CONTROLLER, PARAMETERS ("Kind.apiGroup/name") and AGE.
func IngressClass() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Controller", Type: "string", Description: "Controller that is responsible for handling this class"},
		{Name: "Parameters", Type: "string", Description: "A reference to a resource with additional parameters"},
		printers.AgeColumn(),
	}, func(ic *networkingv1.IngressClass, now time.Time) []interface{} {
		name := ic.Name
		if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			name += " (default)"
		}
		params := "<none>"
		if p := ic.Spec.Parameters; p != nil {
			params = p.Kind
			if p.APIGroup != nil {
				params += "." + *p.APIGroup
			}
			params += "/" + p.Name
		}
		return []interface{}{name, ic.Spec.Controller, params, printers.Age(ic.ObjectMeta, now)}
	})
}

// NetworkPolicy prints NAME, POD-SELECTOR and AGE.
func NetworkPolicy() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Pod-Selector", Type: "string", Description: networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]},
		printers.AgeColumn(),
	}, func(np *networkingv1.NetworkPolicy, now time.Time) []interface{} {
		return []interface{}{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), printers.Age(np.ObjectMeta, now)}
	})
}

// ServiceCIDR prints NAME, CIDRS and AGE.
func ServiceCIDR() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "CIDRs", Type: "string", Description: networkingv1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"]},
		printers.AgeColumn(),
	}, func(sc *networkingv1.ServiceCIDR, now time.Time) []interface{} {
		return []interface{}{sc.Name, strings.Join(sc.Spec.CIDRs, ","), printers.Age(sc.ObjectMeta, now)}
	})
}

// IPAddress prints NAME and PARENTREF ("resource.group/namespace/name").
// Upstream declares no AGE column (its rows carry an age kubectl never
// shows), so none is sent.
func IPAddress() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "ParentRef", Type: "string", Description: networkingv1.IPAddressSpec{}.SwaggerDoc()["parentRef"]},
	}, func(ip *networkingv1.IPAddress, _ time.Time) []interface{} {
		parent := "<none>"
		if ref := ip.Spec.ParentRef; ref != nil {
			parent = strings.ToLower(schema.GroupResource{Group: ref.Group, Resource: ref.Resource}.String())
			if ref.Namespace != "" {
				parent += "/" + ref.Namespace
			}
			parent += "/" + ref.Name
		}
		return []interface{}{ip.Name, parent}
	})
}
