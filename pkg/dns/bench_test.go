package dns

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// BenchmarkReply: answering a Service's A query in the process (parse aside,
// pack included), with 1,000 Services of 10 endpoints indexed.
func BenchmarkReply(b *testing.B) {
	s, err := New(informers.NewSharedInformerFactory(fake.NewClientset(), 0), Options{Upstreams: []string{"127.0.0.1:1"}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		ns := fmt.Sprintf("ns-%d", i%10)
		name := fmt.Sprintf("svc-%d", i)
		s.zone.idx.setService(ns, name, clusterIPService(ns, name, fmt.Sprintf("10.43.%d.%d", i/250, i%250+2), corev1.ServicePort{Name: "http", Port: 80}))
		var eps []ep
		for j := range 10 {
			eps = append(eps, ep{fmt.Sprintf("10.42.%d.%d", i%250, j+2), "", true})
		}
		s.zone.idx.setSlice(ns, name+"-1", endpointSlice(ns, name+"-1", name, []discoveryv1.EndpointPort{namedPort("http", 8080, corev1.ProtocolTCP)}, eps...))
	}
	q := new(dns.Msg)
	q.SetQuestion("svc-999.ns-9.svc.cluster.local.", dns.TypeA)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		m := s.reply(q, false)
		if len(m.Answer) != 1 {
			b.Fatal(m)
		}
		if _, err := m.PackBuffer(buf); err != nil {
			b.Fatal(err)
		}
	}
}
