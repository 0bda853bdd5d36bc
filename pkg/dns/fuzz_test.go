package dns

import (
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// FuzzReply: whatever a packet says, the server answers it or refuses it,
// without panicking, and an answer packs.
func FuzzReply(f *testing.F) {
	s, err := New(informers.NewSharedInformerFactory(fake.NewClientset(), 0), Options{Upstreams: []string{"127.0.0.1:1"}})
	if err != nil {
		f.Fatal(err)
	}
	// The forwarder is never reached: a failing upstream stands in.
	s.fwd.udp.Timeout, s.fwd.tcp.Timeout = 1, 1
	for _, o := range fixture() {
		switch o := o.(type) {
		case *corev1.Service:
			s.zone.idx.setService(o.Namespace, o.Name, o)
		case *discoveryv1.EndpointSlice:
			s.zone.idx.setSlice(o.Namespace, o.Name, o)
		}
	}
	for _, name := range []string{"kubia.default.svc.cluster.local.", "_http._tcp.web.default.svc.cluster.local.",
		"5.0.42.10.in-addr.arpa.", "10-42-0-5.default.pod.cluster.local.", "cluster.local.", "a.b.c.d.e.svc.cluster.local."} {
		for _, t := range []uint16{dns.TypeA, dns.TypeSRV, dns.TypePTR, dns.TypeANY} {
			m := new(dns.Msg)
			m.SetQuestion(name, t)
			m.SetEdns0(4096, true)
			b, _ := m.Pack()
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, packet []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(packet); err != nil {
			return
		}
		m := s.reply(r, false)
		m.Truncate(dns.MinMsgSize)
		if _, err := m.Pack(); err != nil {
			t.Fatalf("an answer that does not pack: %v\n%v", err, m)
		}
	})
}
