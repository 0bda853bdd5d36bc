package proxy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Protocol is a transport protocol the proxy forwards.
type Protocol string

const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// Endpoint is one ready backend of a service port.
type Endpoint struct {
	IP   netip.Addr
	Port uint16
	// Local is set when the endpoint runs on this node (its EndpointSlice
	// nodeName), the only ones a Local traffic policy may use.
	Local bool
}

func (e Endpoint) String() string { return netip.AddrPortFrom(e.IP, e.Port).String() }

// ServicePort is one port of one Service with everything needed to program it:
// the addresses it answers on and the ready endpoints behind it.
type ServicePort struct {
	Namespace string
	Name      string
	PortName  string
	Protocol  Protocol
	ClusterIP netip.Addr
	Port      uint16
	// NodePort is 0 unless the Service is of type NodePort or LoadBalancer.
	NodePort uint16
	// LoadBalancerIPs holds status.loadBalancer.ingress IPs.
	LoadBalancerIPs []netip.Addr
	// ExternalIPs holds spec.externalIPs.
	ExternalIPs []netip.Addr
	// ExternalLocal is externalTrafficPolicy: Local: NodePort, LoadBalancer
	// and external IP traffic from outside the node goes only to local
	// endpoints, keeping the client's source address.
	ExternalLocal bool
	// InternalLocal is internalTrafficPolicy: Local: ClusterIP traffic goes
	// only to local endpoints, and is dropped where there are none.
	InternalLocal bool
	// AffinityTimeout, when not zero, holds a client IP to the endpoint it
	// last used for that long (sessionAffinity: ClientIP).
	AffinityTimeout time.Duration
	// Endpoints is sorted and de-duplicated; empty means "reject".
	Endpoints []Endpoint
}

func (sp ServicePort) String() string {
	return fmt.Sprintf("%s/%s:%s/%s", sp.Namespace, sp.Name, sp.PortName, sp.Protocol)
}

// equal reports whether a and b program the same rules.
func (a ServicePort) equal(b ServicePort) bool {
	return a.Namespace == b.Namespace && a.Name == b.Name && a.PortName == b.PortName &&
		a.Protocol == b.Protocol && a.ClusterIP == b.ClusterIP && a.Port == b.Port &&
		a.NodePort == b.NodePort && a.ExternalLocal == b.ExternalLocal && a.InternalLocal == b.InternalLocal &&
		a.AffinityTimeout == b.AffinityTimeout && slices.Equal(a.LoadBalancerIPs, b.LoadBalancerIPs) &&
		slices.Equal(a.ExternalIPs, b.ExternalIPs) && slices.Equal(a.Endpoints, b.Endpoints)
}

// Model is the whole desired state of the proxy's table, in a stable order.
type Model struct {
	Services []ServicePort
}

// LoadBalancerIPs lists the LoadBalancer ingress addresses this node holds,
// sorted and de-duplicated: every one of a Cluster-policy Service, and a
// Local-policy Service's only where it has a local endpoint.
func (m Model) LoadBalancerIPs() []netip.Addr {
	var ips []netip.Addr
	for _, sp := range m.Services {
		// A Local-policy Service's address is held only where it is served:
		// a node without a local endpoint drops that traffic, so it must not
		// attract it (answer ARP for the address).
		if sp.ExternalLocal && !slices.ContainsFunc(sp.Endpoints, func(e Endpoint) bool { return e.Local }) {
			continue
		}
		ips = append(ips, sp.LoadBalancerIPs...)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	return slices.Compact(ips)
}

// BuildModel computes the desired state from the informers' contents, for the
// node named nodeName. Services without a ClusterIP (headless, ExternalName)
// and non-IPv4 or non-TCP/UDP ports are skipped.
func BuildModel(services []*v1.Service, endpointSlices []*discoveryv1.EndpointSlice, nodeName string) Model {
	slicesBySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range endpointSlices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := s.Namespace + "/" + name
		slicesBySvc[key] = append(slicesBySvc[key], s)
	}

	var m Model
	for _, svc := range services {
		if svc.Spec.Type == v1.ServiceTypeExternalName {
			continue
		}
		clusterIP, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !clusterIP.Is4() {
			continue
		}
		lbIPs, externalIPs := serviceExternalIPs(svc)
		external := len(lbIPs) > 0 || len(externalIPs) > 0 ||
			svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer
		local := external && svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal
		internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == v1.ServiceInternalTrafficPolicyLocal
		for _, p := range svc.Spec.Ports {
			proto, ok := protocolOf(p.Protocol)
			if !ok {
				continue
			}
			sp := ServicePort{
				Namespace:       svc.Namespace,
				Name:            svc.Name,
				PortName:        p.Name,
				Protocol:        proto,
				ClusterIP:       clusterIP,
				Port:            uint16(p.Port),
				LoadBalancerIPs: lbIPs,
				ExternalIPs:     externalIPs,
				ExternalLocal:   local,
				InternalLocal:   internalLocal,
			}
			if svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer {
				sp.NodePort = uint16(p.NodePort)
			}
			sp.AffinityTimeout = affinityTimeout(svc)
			sp.Endpoints = readyEndpoints(slicesBySvc[svc.Namespace+"/"+svc.Name], p, nodeName)
			m.Services = append(m.Services, sp)
		}
	}
	slices.SortFunc(m.Services, func(a, b ServicePort) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.PortName, b.PortName), cmp.Compare(a.Protocol, b.Protocol))
	})
	return m
}

// affinityTimeout is zero unless the Service asks for ClientIP affinity,
// whose timeout defaults to three hours as in the API.
func affinityTimeout(svc *v1.Service) time.Duration {
	if svc.Spec.SessionAffinity != v1.ServiceAffinityClientIP {
		return 0
	}
	secs := v1.DefaultClientIPServiceAffinitySeconds
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
		secs = *c.ClientIP.TimeoutSeconds
	}
	return time.Duration(secs) * time.Second
}

func protocolOf(p v1.Protocol) (Protocol, bool) {
	switch p {
	case v1.ProtocolTCP, "":
		return TCP, true
	case v1.ProtocolUDP:
		return UDP, true
	}
	return "", false
}

// serviceExternalIPs returns the LoadBalancer ingress IPs and spec.externalIPs,
// each sorted and de-duplicated.
func serviceExternalIPs(svc *v1.Service) (lb, external []netip.Addr) {
	parse := func(ss []string) []netip.Addr {
		var ips []netip.Addr
		for _, s := range ss {
			if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
				ips = append(ips, ip)
			}
		}
		slices.SortFunc(ips, netip.Addr.Compare)
		return slices.Compact(ips)
	}
	if svc.Spec.Type == v1.ServiceTypeLoadBalancer {
		var ss []string
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			ss = append(ss, ing.IP)
		}
		lb = parse(ss)
	}
	return lb, parse(svc.Spec.ExternalIPs)
}

// readyEndpoints collects the ready addresses of the slice port that matches
// the service port by name and protocol. A nil Ready condition means ready,
// as the EndpointSlice API defines.
func readyEndpoints(sl []*discoveryv1.EndpointSlice, sp v1.ServicePort, nodeName string) []Endpoint {
	proto := sp.Protocol
	if proto == "" {
		proto = v1.ProtocolTCP
	}
	var eps []Endpoint
	for _, s := range sl {
		var port int32 = -1
		for _, p := range s.Ports {
			pname, pproto := "", v1.ProtocolTCP
			if p.Name != nil {
				pname = *p.Name
			}
			if p.Protocol != nil {
				pproto = *p.Protocol
			}
			if pname == sp.Name && pproto == proto && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if port <= 0 || port > 65535 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if len(ep.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil || !ip.Is4() {
				continue
			}
			local := nodeName != "" && ep.NodeName != nil && *ep.NodeName == nodeName
			i := slices.IndexFunc(eps, func(e Endpoint) bool { return e.IP == ip && e.Port == uint16(port) })
			if i < 0 {
				eps = append(eps, Endpoint{IP: ip, Port: uint16(port), Local: local})
			} else {
				eps[i].Local = eps[i].Local || local
			}
		}
	}
	slices.SortFunc(eps, func(a, b Endpoint) int {
		return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port))
	})
	return eps
}
