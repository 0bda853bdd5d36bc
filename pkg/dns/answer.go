package dns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// ttl is the time to live of every cluster record, and the negative caching
// time of the zone's SOA (what CoreDNS's kubernetes plugin uses).
const ttl = 5

// dnsVersion is the version of the Kubernetes DNS specification served,
// published at dns-version.<zone> as the specification asks.
const dnsVersion = "1.1.0"

// zone answers the names of one cluster domain from an index.
type zone struct {
	origin string // "cluster.local.", lower-case
	idx    *index
	// nsAddr, when valid, is the address of ns.dns.<zone>: the kube-dns
	// Service's, that the apex NS record names.
	nsAddr netip.Addr
}

// answer fills m, a reply to q, when q's name is the cluster's: one of the
// zone, or the reverse name of a Service or headless endpoint. It reports
// false for a name to forward.
func (z *zone) answer(m *dns.Msg, q dns.Question) bool {
	name := strings.ToLower(q.Name)
	switch {
	case name == z.origin:
		z.apex(m, q)
	case strings.HasSuffix(name, z.origin) && name[len(name)-len(z.origin)-1] == '.':
		z.inZone(m, q, name[:len(name)-len(z.origin)-1])
	default:
		ip, ok := reverseAddr(name)
		if !ok {
			return false
		}
		target := z.idx.ptr(ip)
		if target == "" {
			// Not the cluster's address: the node's resolvers may know it.
			return false
		}
		m.Authoritative = true
		if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(q.Name, dns.TypePTR), Ptr: target + ".svc." + z.origin})
		}
	}
	return true
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

func (z *zone) soa() dns.RR {
	serial := z.idx.serial.Load()
	return &dns.SOA{
		Hdr: hdr(z.origin, dns.TypeSOA), Ns: "ns.dns." + z.origin, Mbox: "hostmaster." + z.origin,
		Serial: serial, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: ttl,
	}
}

// noData answers "the name exists, with no record of that type".
func (z *zone) noData(m *dns.Msg) {
	m.Answer = nil
	m.Ns = []dns.RR{z.soa()}
}

func (z *zone) nxDomain(m *dns.Msg) {
	m.Rcode = dns.RcodeNameError
	m.Answer = nil
	m.Ns = []dns.RR{z.soa()}
}

func (z *zone) apex(m *dns.Msg, q dns.Question) {
	m.Authoritative = true
	switch q.Qtype {
	case dns.TypeSOA:
		m.Answer = []dns.RR{z.soa()}
	case dns.TypeNS:
		m.Answer = []dns.RR{&dns.NS{Hdr: hdr(q.Name, dns.TypeNS), Ns: "ns.dns." + z.origin}}
		if z.nsAddr.Is4() {
			m.Extra = append(m.Extra, &dns.A{Hdr: hdr("ns.dns."+z.origin, dns.TypeA), A: z.nsAddr.AsSlice()})
		}
	default:
		z.noData(m)
	}
}

// inZone answers rel, the name with the zone cut off ("kubia.default.svc").
func (z *zone) inZone(m *dns.Msg, q dns.Question, rel string) {
	m.Authoritative = true
	labels := strings.Split(rel, ".")
	n := len(labels)
	switch labels[n-1] {
	case "svc":
		z.inSvc(m, q, labels[:n-1])
	case "pod":
		z.inPod(m, q, labels[:n-1])
	case "dns-version":
		if n != 1 {
			z.nxDomain(m)
		} else if q.Qtype == dns.TypeTXT {
			m.Answer = []dns.RR{&dns.TXT{Hdr: hdr(q.Name, dns.TypeTXT), Txt: []string{dnsVersion}}}
		} else {
			z.noData(m)
		}
	case "dns":
		switch {
		case n == 1:
			z.noData(m)
		case n == 2 && labels[0] == "ns" && z.nsAddr.Is4():
			if q.Qtype == dns.TypeA {
				m.Answer = []dns.RR{&dns.A{Hdr: hdr(q.Name, dns.TypeA), A: z.nsAddr.AsSlice()}}
			} else {
				z.noData(m)
			}
		default:
			z.nxDomain(m)
		}
	default:
		z.nxDomain(m)
	}
}

// inSvc answers a name under svc.<zone>; labels run from the leftmost to
// the namespace.
func (z *zone) inSvc(m *dns.Msg, q dns.Question, labels []string) {
	n := len(labels)
	if n == 0 {
		z.noData(m)
		return
	}
	ns := labels[n-1]
	x := z.idx
	x.mu.RLock()
	defer x.mu.RUnlock()
	if n == 1 {
		if x.perNamespace[ns] > 0 {
			z.noData(m)
		} else {
			z.nxDomain(m)
		}
		return
	}
	k := key{ns, labels[n-2]}
	svc := x.services[k]
	if svc == nil || n > 4 {
		z.nxDomain(m)
		return
	}
	fqdn := k.name + "." + ns + ".svc." + z.origin
	switch n {
	case 2:
		z.serviceName(m, q, k, svc, fqdn)
	case 3:
		first := labels[0]
		if proto, ok := strings.CutPrefix(first, "_"); ok {
			// _tcp.kubia.default.svc: a name with names under it.
			if z.hasPort(k, svc, "", proto) {
				z.noData(m)
			} else {
				z.nxDomain(m)
			}
			return
		}
		z.endpointName(m, q, k, svc, first, fqdn)
	case 4:
		portName, ok1 := strings.CutPrefix(labels[0], "_")
		proto, ok2 := strings.CutPrefix(labels[1], "_")
		if !ok1 || !ok2 || portName == "" || !z.hasPort(k, svc, portName, proto) {
			z.nxDomain(m)
			return
		}
		if q.Qtype == dns.TypeSRV || q.Qtype == dns.TypeANY {
			z.srv(m, q, k, svc, fqdn, portName, proto)
		} else {
			z.noData(m)
		}
	}
}

// serviceName answers svc.ns.svc.<zone>: the ClusterIPs, a headless
// Service's endpoints, an ExternalName's alias, or every port's SRV.
func (z *zone) serviceName(m *dns.Msg, q dns.Question, k key, svc *service, fqdn string) {
	if svc.externalName != "" {
		if ip, err := netip.ParseAddr(svc.externalName); err == nil {
			z.addresses(m, q, []netip.Addr{ip})
			return
		}
		m.Answer = []dns.RR{&dns.CNAME{Hdr: hdr(q.Name, dns.TypeCNAME), Target: dns.Fqdn(svc.externalName)}}
		return
	}
	switch q.Qtype {
	case dns.TypeSRV:
		z.srv(m, q, k, svc, fqdn, "", "")
	case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
		if len(svc.clusterIPs) > 0 {
			z.addresses(m, q, svc.clusterIPs)
			return
		}
		eps, _ := z.idx.endpointsOf(k, svc)
		ips := make([]netip.Addr, len(eps))
		for i, e := range eps {
			ips[i] = e.ip
		}
		z.addresses(m, q, ips)
	default:
		z.noData(m)
	}
}

// addresses answers A or AAAA with the addresses of that family; NODATA
// when there is none.
func (z *zone) addresses(m *dns.Msg, q dns.Question, ips []netip.Addr) {
	for _, ip := range ips {
		if rr := addressRR(q.Name, q.Qtype, ip); rr != nil {
			m.Answer = append(m.Answer, rr)
		}
	}
	if len(m.Answer) == 0 {
		z.noData(m)
	}
}

func addressRR(name string, qtype uint16, ip netip.Addr) dns.RR {
	switch {
	case ip.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
		return &dns.A{Hdr: hdr(name, dns.TypeA), A: ip.AsSlice()}
	case ip.Is6() && !ip.Is4In6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
		return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: ip.AsSlice()}
	}
	return nil
}

// endpointName answers host.svc.ns.svc.<zone>, a headless Service's
// endpoint by its hostname or dashed address.
func (z *zone) endpointName(m *dns.Msg, q dns.Question, k key, svc *service, host, fqdn string) {
	if len(svc.clusterIPs) > 0 || svc.externalName != "" {
		z.nxDomain(m)
		return
	}
	eps, _ := z.idx.endpointsOf(k, svc)
	var ips []netip.Addr
	for _, e := range eps {
		if e.name() == host {
			ips = append(ips, e.ip)
		}
	}
	if len(ips) == 0 {
		z.nxDomain(m)
		return
	}
	z.addresses(m, q, ips)
}

// hasPort reports whether the Service has a port of that name (any when
// empty) and protocol.
func (z *zone) hasPort(k key, svc *service, name, proto string) bool {
	ports := svc.ports
	if len(svc.clusterIPs) == 0 {
		_, ports = z.idx.endpointsOf(k, svc)
	}
	for _, p := range ports {
		if p.proto == proto && (name == "" || p.name == name) {
			return true
		}
	}
	return false
}

// srv answers the SRV records of the Service's ports of that name and
// protocol (every port when both are empty): one to the Service's name for
// a ClusterIP Service, one to each endpoint for a headless one, with their
// addresses in the additional section.
func (z *zone) srv(m *dns.Msg, q dns.Question, k key, svc *service, fqdn, name, proto string) {
	match := func(p port) bool {
		return (name == "" || p.name == name) && (proto == "" || p.proto == proto)
	}
	type target struct {
		host string
		port uint16
	}
	var targets []target
	if len(svc.clusterIPs) > 0 {
		for _, p := range svc.ports {
			if match(p) {
				targets = append(targets, target{fqdn, p.port})
			}
		}
		if len(targets) > 0 {
			for _, ip := range svc.clusterIPs {
				if rr := addressRR(fqdn, dns.TypeANY, ip); rr != nil {
					m.Extra = append(m.Extra, rr)
				}
			}
		}
	} else {
		eps, ports := z.idx.endpointsOf(k, svc)
		for _, p := range ports {
			if !match(p) {
				continue
			}
			for _, e := range eps {
				targets = append(targets, target{e.name() + "." + fqdn, p.port})
			}
		}
		seen := map[string]bool{}
		for _, e := range eps {
			host := e.name() + "." + fqdn
			if len(targets) > 0 && !seen[e.ip.String()] {
				seen[e.ip.String()] = true
				if rr := addressRR(host, dns.TypeANY, e.ip); rr != nil {
					m.Extra = append(m.Extra, rr)
				}
			}
		}
	}
	if len(targets) == 0 {
		z.noData(m)
		return
	}
	weight := uint16(max(1, 100/len(targets)))
	for _, t := range targets {
		m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr(q.Name, dns.TypeSRV), Priority: 0, Weight: weight, Port: t.port, Target: t.host})
	}
}

// inPod answers a-b-c-d.ns.pod.<zone> with the address its name spells,
// whether or not a pod has it (upstream's "pods insecure").
func (z *zone) inPod(m *dns.Msg, q dns.Question, labels []string) {
	switch len(labels) {
	case 0, 1:
		z.noData(m)
	case 2:
		ip, ok := undashed(labels[0])
		if !ok {
			z.nxDomain(m)
			return
		}
		z.addresses(m, q, []netip.Addr{ip})
	default:
		z.nxDomain(m)
	}
}

// undashed reads 10-42-0-5 (or an IPv6 address with dashes for colons).
func undashed(s string) (netip.Addr, bool) {
	if strings.Count(s, "-") == 3 {
		ip, err := netip.ParseAddr(strings.ReplaceAll(s, "-", "."))
		return ip, err == nil && ip.Is4()
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ":"))
	return ip, err == nil && ip.Is6()
}

// reverseAddr reads a full reverse name (d.c.b.a.in-addr.arpa. or the 32
// nibbles of ip6.arpa.).
func reverseAddr(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		for i, j := 0, 3; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		ip, err := netip.ParseAddr(strings.Join(parts, "."))
		return ip, err == nil && ip.Is4()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		nibbles := strings.Split(rest, ".")
		if len(nibbles) != 32 {
			return netip.Addr{}, false
		}
		var b strings.Builder
		for i := 31; i >= 0; i-- {
			if len(nibbles[i]) != 1 {
				return netip.Addr{}, false
			}
			b.WriteString(nibbles[i])
			if i%4 == 0 && i > 0 {
				b.WriteByte(':')
			}
		}
		ip, err := netip.ParseAddr(b.String())
		return ip, err == nil && ip.Is6()
	}
	return netip.Addr{}, false
}
