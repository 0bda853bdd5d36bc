package servicelb

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// nodeView is what the load balancer sees of a node.
type nodeView struct {
	eligible           bool
	internal, external []string
}

func viewOf(n *corev1.Node) nodeView {
	v := nodeView{eligible: nodeEligible(n)}
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeInternalIP:
			v.internal = append(v.internal, a.Address)
		case corev1.NodeExternalIP:
			v.external = append(v.external, a.Address)
		}
	}
	return v
}

func (v nodeView) equal(o nodeView) bool {
	return v.eligible == o.eligible && slices.Equal(v.internal, o.internal) && slices.Equal(v.external, o.external)
}

// nodeEligible reports whether a node may carry load-balancer traffic: it is
// Ready, not on its way out, and not labelled out of external load balancers.
func nodeEligible(n *corev1.Node) bool {
	if n.DeletionTimestamp != nil {
		return false
	}
	if _, excluded := n.Labels[corev1.LabelNodeExcludeBalancers]; excluded {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// nodeIngress lists the addresses k3s's ServiceLB would publish for svc: of
// the eligible nodes (for externalTrafficPolicy Local, only those running a
// ready endpoint of it), their ExternalIPs when any has one, else their
// InternalIPs; then the Service's IP families in order, each sorted.
func (c *Controller) nodeIngress(svc *corev1.Service) ([]corev1.LoadBalancerIngress, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var local map[string]bool
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		if local, err = c.nodesWithReadyEndpoints(svc); err != nil {
			return nil, err
		}
	}
	internal, external := map[string]bool{}, map[string]bool{}
	for _, n := range nodes {
		if !nodeEligible(n) || (local != nil && !local[n.Name]) {
			continue
		}
		v := viewOf(n)
		for _, a := range v.internal {
			internal[a] = true
		}
		for _, a := range v.external {
			external[a] = true
		}
	}
	chosen := internal
	if len(external) > 0 {
		chosen = external
	}
	var v4, v6 []string
	for s := range chosen {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if a.Unmap().Is4() {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	slices.Sort(v4)
	slices.Sort(v6)
	var ips []string
	for _, f := range families(svc) {
		if f == corev1.IPv6Protocol {
			ips = append(ips, v6...)
		} else {
			ips = append(ips, v4...)
		}
	}
	return ingressFor(ips), nil
}

// families are the Service's IP families, or IPv4 for one that has none.
func families(svc *corev1.Service) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	return []corev1.IPFamily{corev1.IPv4Protocol}
}

// nodesWithReadyEndpoints are the nodes running a ready pod of the Service,
// read from its EndpointSlices.
func (c *Controller) nodesWithReadyEndpoints(svc *corev1.Service) (map[string]bool, error) {
	list, err := c.slices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, s := range list {
		for _, ep := range s.Endpoints {
			isPod := ep.TargetRef != nil && ep.TargetRef.Kind == "Pod"
			if isPod && ep.NodeName != nil && ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				out[*ep.NodeName] = true
			}
		}
	}
	return out, nil
}

func ingressFor(ips []string) []corev1.LoadBalancerIngress {
	out := make([]corev1.LoadBalancerIngress, 0, len(ips))
	for _, ip := range ips {
		mode := corev1.LoadBalancerIPModeVIP
		out = append(out, corev1.LoadBalancerIngress{IP: ip, IPMode: &mode})
	}
	return out
}
