package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// key names a Service (or the Service an EndpointSlice belongs to).
type key struct{ ns, name string }

// service is what DNS needs of a Service.
type service struct {
	clusterIPs   []netip.Addr // empty: headless
	externalName string       // set: type ExternalName
	ports        []port
	// notReady publishes endpoints that are not ready
	// (spec.publishNotReadyAddresses).
	notReady bool
}

type port struct {
	name, proto string // proto lower-case: "tcp", "udp", "sctp"
	port        uint16
}

// endpoint is one address of an EndpointSlice.
type endpoint struct {
	ip       netip.Addr
	hostname string // spec's hostname; empty: the dashed address stands in
	ready    bool
}

// name is the endpoint's label under its Service: its hostname, else its
// address with dashes (10-42-0-5), as the DNS specification names it.
func (e endpoint) name() string {
	if e.hostname != "" {
		return e.hostname
	}
	return dashed(e.ip)
}

func dashed(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.StringExpanded(), ":", "-")
}

// slice is what DNS needs of an EndpointSlice.
type slice struct {
	owner     key
	endpoints []endpoint
	ports     []port
}

// index holds the cluster's names. Informer handlers write it; queries read
// it under the read lock, so an answer reflects an event as soon as the
// handler ran.
type index struct {
	mu       sync.RWMutex
	services map[key]*service
	// slices by Service, then by slice name.
	slices map[key]map[string]*slice
	// sliceOwner remembers each slice's Service, for a slice whose label
	// changed or that was deleted.
	sliceOwner map[key]key
	// perNamespace counts Services, so a namespace's own name (ns.svc.zone)
	// exists while it has any.
	perNamespace map[string]int
	// reverse maps Service IPs and headless endpoints to their names,
	// rebuilt on the first PTR query after a change.
	reverse      map[netip.Addr][2]string // {hostname or "", service key as "name.ns"}
	reverseStale bool
	// serial changes with every write, for the zone's SOA; atomic, as
	// answers read it with or without the read lock held (a second RLock
	// would deadlock behind a waiting writer).
	serial atomic.Uint32
}

func newIndex() *index {
	return &index{
		services:     map[key]*service{},
		slices:       map[key]map[string]*slice{},
		sliceOwner:   map[key]key{},
		perNamespace: map[string]int{},
		reverseStale: true,
	}
}

func protoOf(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

func serviceOf(s *corev1.Service) *service {
	out := &service{notReady: s.Spec.PublishNotReadyAddresses}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		out.externalName = strings.ToLower(strings.TrimSuffix(s.Spec.ExternalName, "."))
		return out
	}
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			out.clusterIPs = append(out.clusterIPs, a)
		}
	}
	for _, p := range s.Spec.Ports {
		out.ports = append(out.ports, port{name: strings.ToLower(p.Name), proto: protoOf(p.Protocol), port: uint16(p.Port)})
	}
	return out
}

func sliceOf(s *discoveryv1.EndpointSlice) *slice {
	out := &slice{owner: key{s.Namespace, s.Labels[discoveryv1.LabelServiceName]}}
	for _, p := range s.Ports {
		if p.Port == nil {
			continue
		}
		var proto corev1.Protocol
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		var name string
		if p.Name != nil {
			name = strings.ToLower(*p.Name)
		}
		out.ports = append(out.ports, port{name: name, proto: protoOf(proto), port: uint16(*p.Port)})
	}
	for _, e := range s.Endpoints {
		ready := e.Conditions.Ready == nil || *e.Conditions.Ready
		var hostname string
		if e.Hostname != nil {
			hostname = strings.ToLower(*e.Hostname)
		}
		for _, a := range e.Addresses {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				continue
			}
			out.endpoints = append(out.endpoints, endpoint{ip: ip, hostname: hostname, ready: ready})
		}
	}
	return out
}

func (x *index) touch() {
	x.serial.Add(1)
	x.reverseStale = true
}

func (x *index) setService(ns, name string, s *corev1.Service) {
	k := key{ns, name}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.services[k]; !ok {
		x.perNamespace[ns]++
	}
	x.services[k] = serviceOf(s)
	x.touch()
}

func (x *index) deleteService(ns, name string) {
	k := key{ns, name}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.services[k]; !ok {
		return
	}
	delete(x.services, k)
	if x.perNamespace[ns]--; x.perNamespace[ns] <= 0 {
		delete(x.perNamespace, ns)
	}
	x.touch()
}

func (x *index) setSlice(ns, name string, s *discoveryv1.EndpointSlice) {
	sk := key{ns, name}
	sl := sliceOf(s)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropSlice(sk)
	if sl.owner.name == "" {
		x.touch()
		return
	}
	m := x.slices[sl.owner]
	if m == nil {
		m = map[string]*slice{}
		x.slices[sl.owner] = m
	}
	m[name] = sl
	x.sliceOwner[sk] = sl.owner
	x.touch()
}

func (x *index) deleteSlice(ns, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropSlice(key{ns, name})
	x.touch()
}

func (x *index) dropSlice(sk key) {
	owner, ok := x.sliceOwner[sk]
	if !ok {
		return
	}
	delete(x.sliceOwner, sk)
	if m := x.slices[owner]; m != nil {
		delete(m, sk.name)
		if len(m) == 0 {
			delete(x.slices, owner)
		}
	}
}

// endpointsOf lists a Service's published endpoints, each address once,
// in a stable order; ports are the union of its slices' ports. The caller
// holds the read lock.
func (x *index) endpointsOf(k key, svc *service) ([]endpoint, []port) {
	var eps []endpoint
	var ports []port
	for _, sl := range x.slices[k] {
		for _, e := range sl.endpoints {
			if e.ready || svc.notReady {
				eps = append(eps, e)
			}
		}
		for _, p := range sl.ports {
			if !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	slices.SortFunc(eps, func(a, b endpoint) int { return a.ip.Compare(b.ip) })
	eps = slices.CompactFunc(eps, func(a, b endpoint) bool { return a.ip == b.ip })
	slices.SortFunc(ports, func(a, b port) int { return strings.Compare(a.name+"/"+a.proto, b.name+"/"+b.proto) })
	return eps, ports
}

// ptr names an address: a Service's ClusterIP (name.ns), or a headless
// Service's endpoint (host.name.ns). It returns the relative name under
// svc.<zone>, or "".
func (x *index) ptr(ip netip.Addr) string {
	x.mu.RLock()
	if !x.reverseStale {
		defer x.mu.RUnlock()
		return x.reverseName(ip)
	}
	x.mu.RUnlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.reverseStale {
		x.reverse = map[netip.Addr][2]string{}
		for k, svc := range x.services {
			svcName := k.name + "." + k.ns
			for _, a := range svc.clusterIPs {
				x.reverse[a] = [2]string{"", svcName}
			}
			if len(svc.clusterIPs) > 0 || svc.externalName != "" {
				continue
			}
			eps, _ := x.endpointsOf(k, svc)
			for _, e := range eps {
				if _, taken := x.reverse[e.ip]; !taken {
					x.reverse[e.ip] = [2]string{e.name(), svcName}
				}
			}
		}
		x.reverseStale = false
	}
	return x.reverseName(ip)
}

func (x *index) reverseName(ip netip.Addr) string {
	r, ok := x.reverse[ip]
	switch {
	case !ok:
		return ""
	case r[0] == "":
		return r[1]
	default:
		return r[0] + "." + r[1]
	}
}
