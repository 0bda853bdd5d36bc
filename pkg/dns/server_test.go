package dns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func clusterIPService(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: []string{ip}, Ports: ports},
	}
}

func headless(ns, name string, notReady bool) *corev1.Service {
	s := clusterIPService(ns, name, corev1.ClusterIPNone)
	s.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	s.Spec.PublishNotReadyAddresses = notReady
	return s
}

type ep struct {
	ip, host string
	ready    bool
}

func endpointSlice(ns, name, svc string, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
	for _, e := range eps {
		out := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e.ready)}}
		if e.host != "" {
			out.Hostname = ptr.To(e.host)
		}
		s.Endpoints = append(s.Endpoints, out)
	}
	return s
}

func namedPort(name string, p int32, proto corev1.Protocol) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(p), Protocol: ptr.To(proto)}
}

// longName is a Service name of 63 characters, the most a label holds.
var longName = strings.Repeat("a", 62) + "z"

// fixture is the cluster every record test asks about.
func fixture() []any {
	return []any{
		clusterIPService("default", "kubia", "10.43.0.20",
			corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Port: 9090, Protocol: corev1.ProtocolUDP}),
		clusterIPService("default", "noports", "10.43.0.21"),
		// Service names may start with a digit (RelaxedServiceNameValidation).
		clusterIPService("default", "1kubernetes", "10.43.0.23", corev1.ServicePort{Port: 443}),
		clusterIPService("other", longName, "10.43.0.22", corev1.ServicePort{Name: "http", Port: 80}),
		headless("default", "web", false),
		endpointSlice("default", "web-abc", "web", []discoveryv1.EndpointPort{namedPort("http", 80, corev1.ProtocolTCP)},
			ep{"10.42.0.5", "web-0", true}, ep{"10.42.0.7", "", true}, ep{"10.42.0.9", "web-2", false}),
		headless("default", "all", true),
		endpointSlice("default", "all-1", "all", nil, ep{"10.42.1.5", "", true}, ep{"10.42.1.6", "", false}),
		// The same address in two slices (a move between them) is one record.
		endpointSlice("default", "all-2", "all", nil, ep{"10.42.1.5", "", true}),
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"},
		},
	}
}

// upstream is a resolver standing in for the node's: it knows example.org
// and denies everything else, and counts what it was asked.
type upstream struct {
	addr    string
	queries atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		u.queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch {
		case strings.EqualFold(q.Name, "example.org.") && q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR("example.org. 300 IN A 192.0.2.10")
			m.Answer = append(m.Answer, rr)
		case strings.EqualFold(q.Name, "big.example.org.") && q.Qtype == dns.TypeA:
			for i := range 100 {
				rr, _ := dns.NewRR(fmt.Sprintf("big.example.org. 300 IN A 192.0.2.%d", i+1))
				m.Answer = append(m.Answer, rr)
			}
		default:
			m.Rcode = dns.RcodeNameError
			soa, _ := dns.NewRR("example. 3600 IN SOA ns.example. admin.example. 1 7200 1800 86400 60")
			m.Ns = append(m.Ns, soa)
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncate(dns.MinMsgSize)
		}
		_ = w.WriteMsg(m)
	})
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go func() { _ = s.ActivateAndServe() }()
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return u
}

type testServer struct {
	*Server
	client *fake.Clientset
	addr   string
	up     *upstream
}

func startServer(t *testing.T, objects ...any) *testServer {
	t.Helper()
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	for _, o := range objects {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			_, err = client.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, err = client.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	up := startUpstream(t)
	s, err := New(informers.NewSharedInformerFactory(client, 0), Options{
		Listen: []string{"127.0.0.1:0"}, Upstreams: []string{up.addr}, ServiceIP: "10.43.0.10",
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	return &testServer{Server: s, client: client, addr: s.Addrs()[0].String(), up: up}
}

func (ts *testServer) ask(t *testing.T, net, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: net, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, ts.addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], net, err)
	}
	return r
}

// records are the answer's records as zone-file lines, sorted, TTLs kept.
func records(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	sort.Strings(out)
	return out
}

func TestRecords(t *testing.T) {
	ts := startServer(t, fixture()...)
	const soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local."
	for _, tc := range []struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
	}{
		{name: "kubia.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"kubia.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		// Case is the client's: the answer keeps it, the lookup ignores it.
		{name: "KUBIA.Default.SVC.Cluster.Local.", qtype: dns.TypeA,
			answer: []string{"KUBIA.Default.SVC.Cluster.Local. 5 IN A 10.43.0.20"}},
		{name: "kubia.default.svc.cluster.local.", qtype: dns.TypeAAAA},
		{name: "kubia.default.svc.cluster.local.", qtype: dns.TypeMX},
		{name: "nope.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "default.svc.cluster.local.", qtype: dns.TypeA},
		{name: "ghost.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "svc.cluster.local.", qtype: dns.TypeA},
		{name: "cluster.local.", qtype: dns.TypeA},
		{name: "kubia.default.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		// A search-path expansion of an outside name: denied here, at once.
		{name: "www.example.com.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "a.b.c.kubia.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: longName + ".other.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{longName + ".other.svc.cluster.local. 5 IN A 10.43.0.22"}},
		// SRV: a named port, every port (the unnamed one too), none.
		{name: "_http._tcp.kubia.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.kubia.default.svc.cluster.local. 5 IN SRV 0 100 8080 kubia.default.svc.cluster.local."},
			extra:  []string{"kubia.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		{name: "_http._udp.kubia.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: dns.RcodeNameError},
		{name: "_http._tcp.kubia.default.svc.cluster.local.", qtype: dns.TypeA},
		{name: "_tcp.kubia.default.svc.cluster.local.", qtype: dns.TypeSRV},
		{name: "kubia.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"kubia.default.svc.cluster.local. 5 IN SRV 0 50 8080 kubia.default.svc.cluster.local.",
				"kubia.default.svc.cluster.local. 5 IN SRV 0 50 9090 kubia.default.svc.cluster.local.",
			},
			extra: []string{"kubia.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		{name: "noports.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"noports.default.svc.cluster.local. 5 IN A 10.43.0.21"}},
		{name: "noports.default.svc.cluster.local.", qtype: dns.TypeSRV},
		{name: "1kubernetes.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"1kubernetes.default.svc.cluster.local. 5 IN A 10.43.0.23"}},
		// Headless: the ready endpoints; each by its hostname or dashed address.
		{name: "web.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{
			"web.default.svc.cluster.local. 5 IN A 10.42.0.5", "web.default.svc.cluster.local. 5 IN A 10.42.0.7"}},
		{name: "web-0.web.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"web-0.web.default.svc.cluster.local. 5 IN A 10.42.0.5"}},
		{name: "10-42-0-7.web.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-42-0-7.web.default.svc.cluster.local. 5 IN A 10.42.0.7"}},
		{name: "web-2.web.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "web-0.kubia.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 10-42-0-7.web.default.svc.cluster.local.",
				"_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 web-0.web.default.svc.cluster.local.",
			},
			extra: []string{
				"10-42-0-7.web.default.svc.cluster.local. 5 IN A 10.42.0.7",
				"web-0.web.default.svc.cluster.local. 5 IN A 10.42.0.5",
			}},
		// publishNotReadyAddresses: the not-ready endpoint too, each address once.
		{name: "all.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{
			"all.default.svc.cluster.local. 5 IN A 10.42.1.5", "all.default.svc.cluster.local. 5 IN A 10.42.1.6"}},
		{name: "ext.default.svc.cluster.local.", qtype: dns.TypeCNAME,
			answer: []string{"ext.default.svc.cluster.local. 5 IN CNAME example.org."}},
		{name: "20.0.43.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"20.0.43.10.in-addr.arpa. 5 IN PTR kubia.default.svc.cluster.local."}},
		{name: "5.0.42.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"5.0.42.10.in-addr.arpa. 5 IN PTR web-0.web.default.svc.cluster.local."}},
		{name: "7.0.42.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"7.0.42.10.in-addr.arpa. 5 IN PTR 10-42-0-7.web.default.svc.cluster.local."}},
		{name: "10-42-0-5.default.pod.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-42-0-5.default.pod.cluster.local. 5 IN A 10.42.0.5"}},
		{name: "10-42-0.default.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "10-42-0-5.default.pod.cluster.local.", qtype: dns.TypeAAAA},
		{name: "dns-version.cluster.local.", qtype: dns.TypeTXT,
			answer: []string{`dns-version.cluster.local. 5 IN TXT "1.1.0"`}},
		{name: "cluster.local.", qtype: dns.TypeNS, answer: []string{"cluster.local. 5 IN NS ns.dns.cluster.local."},
			extra: []string{"ns.dns.cluster.local. 5 IN A 10.43.0.10"}},
	} {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			r := ts.ask(t, "udp", tc.name, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
			}
			if !r.Authoritative {
				t.Errorf("not authoritative:\n%v", r)
			}
			if got := records(r.Answer); !slices.Equal(got, tc.answer) {
				t.Errorf("answer\n%q\nwant\n%q", got, tc.answer)
			}
			if got := records(r.Extra); !slices.Equal(got, tc.extra) {
				t.Errorf("additional\n%q\nwant\n%q", got, tc.extra)
			}
			// A denial (NXDOMAIN or NODATA) carries the zone's SOA, for
			// negative caching.
			if len(tc.answer) == 0 && tc.qtype != dns.TypeNS {
				if len(r.Ns) != 1 || !strings.HasPrefix(records(r.Ns)[0], soa) {
					t.Errorf("authority %q, want the SOA", records(r.Ns))
				}
			}
		})
	}
	if n := ts.up.queries.Load(); n != 0 {
		t.Errorf("the node's resolver was asked %d times about the cluster's names", n)
	}
}

// TestExternalNameChased: an ExternalName's alias comes with its target's
// addresses, as a recursive resolver gives them (Go's resolver, for one,
// does not chase aliases itself).
func TestExternalNameChased(t *testing.T) {
	ts := startServer(t, append(fixture(),
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "alias"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "kubia.default.svc.cluster.local"},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gone"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "nowhere.example"},
		})...)
	for name, want := range map[string][]string{
		"ext.default.svc.cluster.local.":   {"ext.default.svc.cluster.local. 5 IN CNAME example.org.", "example.org. 300 IN A 192.0.2.10"},
		"alias.default.svc.cluster.local.": {"alias.default.svc.cluster.local. 5 IN CNAME kubia.default.svc.cluster.local.", "kubia.default.svc.cluster.local. 5 IN A 10.43.0.20"},
	} {
		r := ts.ask(t, "udp", name, dns.TypeA)
		var got []string
		for _, rr := range r.Answer {
			got = append(got, strings.ReplaceAll(rr.String(), "\t", " "))
		}
		if r.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
			t.Errorf("%s: %s %q, want %q", name, dns.RcodeToString[r.Rcode], got, want)
		}
	}
	// A target nobody knows: the alias, and NXDOMAIN for its end.
	r := ts.ask(t, "udp", "gone.default.svc.cluster.local.", dns.TypeA)
	if r.Rcode != dns.RcodeNameError || len(r.Answer) != 1 {
		t.Errorf("an alias to nowhere: %s %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
}

// TestAnswersFollowTheAPI: a new Service, a new endpoint and a deleted
// Service show within a second.
func TestAnswersFollowTheAPI(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within a second", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := ts.client.CoreV1().Services("default").Create(ctx, clusterIPService("default", "late", "10.43.0.30"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the new Service", func() bool {
		return len(ts.ask(t, "udp", "late.default.svc.cluster.local.", dns.TypeA).Answer) == 1
	})
	if _, err := ts.client.CoreV1().Services("default").Create(ctx, headless("default", "hl", false), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := endpointSlice("default", "hl-1", "hl", nil, ep{"10.42.0.40", "", true})
	if _, err := ts.client.DiscoveryV1().EndpointSlices("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the new endpoint", func() bool {
		return len(ts.ask(t, "udp", "hl.default.svc.cluster.local.", dns.TypeA).Answer) == 1
	})
	s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.42.0.41"}})
	if _, err := ts.client.DiscoveryV1().EndpointSlices("default").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the second endpoint", func() bool {
		return len(ts.ask(t, "udp", "hl.default.svc.cluster.local.", dns.TypeA).Answer) == 2
	})
	if err := ts.client.CoreV1().Services("default").Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the deleted Service", func() bool {
		return ts.ask(t, "udp", "late.default.svc.cluster.local.", dns.TypeA).Rcode == dns.RcodeNameError
	})
}

// TestTruncation: an answer too big for UDP says so, and TCP carries it whole.
func TestTruncation(t *testing.T) {
	var objs []any
	objs = append(objs, headless("default", "many", false))
	var eps []ep
	for i := range 100 {
		eps = append(eps, ep{fmt.Sprintf("10.42.2.%d", i+1), "", true})
	}
	objs = append(objs, endpointSlice("default", "many-1", "many", nil, eps...))
	ts := startServer(t, objs...)
	udp := ts.ask(t, "udp", "many.default.svc.cluster.local.", dns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Errorf("over UDP: truncated %v with %d answers", udp.Truncated, len(udp.Answer))
	}
	tcp := ts.ask(t, "tcp", "many.default.svc.cluster.local.", dns.TypeA)
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("over TCP: truncated %v with %d answers", tcp.Truncated, len(tcp.Answer))
	}
	// A forwarded answer too: the client gets what fits, with TC set.
	big := ts.ask(t, "udp", "big.example.org.", dns.TypeA)
	if !big.Truncated {
		t.Errorf("a forwarded answer of 100 addresses over UDP was not truncated (%d answers)", len(big.Answer))
	}
	if full := ts.ask(t, "tcp", "big.example.org.", dns.TypeA); len(full.Answer) != 100 {
		t.Errorf("a forwarded answer over TCP has %d addresses, want 100", len(full.Answer))
	}
}

// TestForwarding: outside names come from the node's resolver, and answers
// and denials are cached for their TTL, capped.
func TestForwarding(t *testing.T) {
	ts := startServer(t)
	for range 3 {
		r := ts.ask(t, "udp", "example.org.", dns.TypeA)
		if got := records(r.Answer); len(got) != 1 || !strings.HasSuffix(got[0], "IN A 192.0.2.10") {
			t.Fatalf("example.org: %q", got)
		}
		if r.Answer[0].Header().Ttl > uint32(maxCacheTTL/time.Second) && ts.up.queries.Load() > 1 {
			t.Errorf("a cached answer's TTL is %d", r.Answer[0].Header().Ttl)
		}
	}
	for range 3 {
		if r := ts.ask(t, "udp", "nowhere.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Fatalf("nowhere.example: %s", dns.RcodeToString[r.Rcode])
		}
	}
	if n := ts.up.queries.Load(); n != 2 {
		t.Errorf("the resolver was asked %d times for 2 names asked 3 times each", n)
	}
	// A reverse name outside the cluster is the resolver's.
	if r := ts.ask(t, "udp", "1.2.0.192.in-addr.arpa.", dns.TypePTR); r.Rcode != dns.RcodeNameError || ts.up.queries.Load() != 3 {
		t.Errorf("an outside PTR: %s, resolver asked %d times", dns.RcodeToString[r.Rcode], ts.up.queries.Load())
	}
}

func TestCacheKeepsAndAges(t *testing.T) {
	c := newCache(4)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	resp := new(dns.Msg)
	resp.SetReply(q)
	rr, _ := dns.NewRR("a.example. 20 IN A 192.0.2.1")
	resp.Answer = []dns.RR{rr}
	c.put(keyOf(q), resp)
	now = now.Add(7 * time.Second)
	got := c.get(keyOf(q), 42)
	if got == nil || got.Id != 42 || got.Answer[0].Header().Ttl != 13 {
		t.Fatalf("after 7 s: %v", got)
	}
	now = now.Add(14 * time.Second)
	if got := c.get(keyOf(q), 1); got != nil {
		t.Fatalf("kept past its TTL: %v", got)
	}
	// Bounded: many names never grow it past its size.
	for i := range 100 {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("n%d.example.", i), dns.TypeA)
		r := new(dns.Msg)
		r.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 20 IN A 192.0.2.1")
		r.Answer = []dns.RR{rr}
		c.put(keyOf(q), r)
		if c.len() > 4 {
			t.Fatalf("%d entries in a cache of 4", c.len())
		}
	}
	// Failures and denials without an SOA are not kept.
	fail := new(dns.Msg)
	fail.SetRcode(q, dns.RcodeServerFailure)
	if keepFor(fail) != 0 {
		t.Error("SERVFAIL kept")
	}
	nx := new(dns.Msg)
	nx.SetRcode(q, dns.RcodeNameError)
	if keepFor(nx) != 0 {
		t.Error("a denial without SOA kept")
	}
}

// TestBadInput: malformed packets, 0 or 50 questions, and a flood of random
// names: no crash, a bounded cache, and answers keep flowing.
func TestBadInput(t *testing.T) {
	ts := startServer(t, fixture()...)
	conn, err := net.Dial("udp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(b []byte) *dns.Msg {
		t.Helper()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			return nil
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("unreadable reply: %v", err)
		}
		return m
	}
	for _, n := range []int{0, 50} {
		m := new(dns.Msg)
		m.Id = 7
		for i := range n {
			m.Question = append(m.Question, dns.Question{Name: fmt.Sprintf("q%d.example.", i), Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if r := send(b); r == nil || r.Rcode != dns.RcodeFormatError {
			t.Errorf("%d questions: %v, want FORMERR", n, r)
		}
	}
	garbage := [][]byte{
		{},
		{0x12},
		{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, // a question that is not there
		// A label of length 64 (0x40: a reserved label type) in the question.
		append([]byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x40}, []byte(strings.Repeat("a", 64)+"\x00\x00\x01\x00\x01")...),
		// A compression pointer to itself.
		{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01},
	}
	for i, b := range garbage {
		if r := send(b); r != nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			t.Errorf("garbage %d answered: %v", i, r)
		}
	}
	// A flood of random outside names: the cache stays bounded.
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for i := range 300 {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("r%d-%d.flood.example.", i, time.Now().UnixNano()), dns.TypeA)
		if _, _, err := c.Exchange(m, ts.addr); err != nil {
			t.Fatalf("flood query %d: %v", i, err)
		}
	}
	if n := ts.fwd.cache.len(); n > cacheEntries {
		t.Errorf("%d cached entries, more than %d", n, cacheEntries)
	}
	if r := ts.ask(t, "udp", "kubia.default.svc.cluster.local.", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("after the bad input: %v", r)
	}
}

func TestReverseAddr(t *testing.T) {
	for name, want := range map[string]string{
		"4.3.2.1.in-addr.arpa.": "1.2.3.4",
		"3.2.1.in-addr.arpa.":   "",
		"x.3.2.1.in-addr.arpa.": "",
		"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.": "4321:0:1:2:3:4:567:89ab",
	} {
		ip, ok := reverseAddr(name)
		if got := ""; ok {
			got = ip.String()
			if got != want {
				t.Errorf("%s: %s, want %s", name, got, want)
			}
		} else if want != "" {
			t.Errorf("%s: unread, want %s", name, want)
		}
	}
}

// TestAnswersWhileWritten: denials (which read the SOA's serial) under a
// stream of writes never wait on each other for good.
func TestAnswersWhileWritten(t *testing.T) {
	z := &zone{origin: "cluster.local.", idx: newIndex()}
	z.idx.setService("default", "kubia", clusterIPService("default", "kubia", "10.43.0.20"))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			z.idx.setService("default", fmt.Sprintf("s%d", i%50), clusterIPService("default", "x", "10.43.1.1"))
		}
	}()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		q := dns.Question{Name: "nope.default.svc.cluster.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
		for range 20000 {
			m := new(dns.Msg)
			z.answer(m, q)
		}
	}()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		t.Fatal("answers stuck behind writes")
	}
	close(stop)
	<-done
}

// TestStopsRightAfterStart: a server stopped the moment it is ready stops,
// even when its listeners had not begun to serve (their Shutdown then fails,
// and they would otherwise serve on forever).
func TestStopsRightAfterStart(t *testing.T) {
	for range 40 {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := New(informers.NewSharedInformerFactory(fake.NewClientset(), 0), Options{
			Listen: []string{"127.0.0.1:0"}, ServiceIP: "10.43.0.10",
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		<-s.Ready()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
}
