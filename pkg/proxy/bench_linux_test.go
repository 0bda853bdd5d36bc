package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// benchNetNS makes an empty network namespace for a benchmark.
func benchNetNS(b *testing.B) string {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates a network namespace and nftables rules")
	}
	ns := fmt.Sprintf("skp-bench-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v\n%s", err, out)
	}
	b.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	return "/var/run/netns/" + ns
}

// bigModel is 1,000 Services with 10 endpoints each, NodePort and
// LoadBalancer IP included.
func bigModel() Model {
	var m Model
	for i := range 1000 {
		sp := ServicePort{Namespace: "default", Name: fmt.Sprintf("svc-%d", i), PortName: "http", Protocol: TCP,
			ClusterIP: netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)}), Port: 80,
			NodePort: uint16(30000 + i), LoadBalancerIPs: []netip.Addr{netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)})}}
		for j := range 10 {
			sp.Endpoints = append(sp.Endpoints, Endpoint{IP: netip.AddrFrom4([4]byte{10, 42, byte(i >> 4), byte(j + 16*(i&15))}), Port: 8080})
		}
		m.Services = append(m.Services, sp)
	}
	return m
}

func benchProxy(nsPath string) *Proxy {
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	return &Proxy{opts: Options{NetNSPath: nsPath, ClusterCIDR: cidr},
		nodeIPs: []netip.Addr{netip.MustParseAddr("192.168.77.2")}}
}

// BenchmarkProgram1000Services measures one full programming of 1,000
// Services with 10 endpoints each: into an empty namespace ("fresh"), and
// over the table a previous run left ("restart", which reconciles it in
// place to keep affinity entries).
func BenchmarkProgram1000Services(b *testing.B) {
	nsPath := benchNetNS(b)
	m := bigModel()
	p := benchProxy(nsPath)
	b.Cleanup(func() { p.Cleanup() })
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if err := p.Cleanup(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := p.apply(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restart", func(b *testing.B) {
		for b.Loop() {
			p.state = nil // a new process knows nothing of the table
			if err := p.apply(m); err != nil {
				b.Fatal(err)
			}
			if st := p.lastStats; !st.Full || st.Chains != 11000 {
				b.Fatalf("restart sync: %+v", st)
			}
		}
	})
}

// BenchmarkSyncOneChange1000Services measures the sync after one Service of
// 1,000 (10 endpoints each) gains or loses an endpoint.
func BenchmarkSyncOneChange1000Services(b *testing.B) {
	nsPath := benchNetNS(b)
	m := bigModel()
	p := benchProxy(nsPath)
	b.Cleanup(func() { p.Cleanup() })
	if err := p.apply(m); err != nil {
		b.Fatal(err)
	}
	extra := Endpoint{IP: netip.MustParseAddr("10.42.200.1"), Port: 8080}
	base := m.Services[500].Endpoints
	i := 0
	for b.Loop() {
		i++
		if i%2 == 1 {
			m.Services[500].Endpoints = append(slices.Clone(base), extra)
		} else {
			m.Services[500].Endpoints = base
		}
		if err := p.apply(m); err != nil {
			b.Fatal(err)
		}
		if st := p.lastStats; st.Full || st.Changed != 1 {
			b.Fatalf("one change synced as %+v", st)
		}
	}
}

// loadResult is what one load run measured.
type loadResult struct {
	requests int
	elapsed  time.Duration
	lat      []time.Duration
	errors   int
}

func (r *loadResult) add(o loadResult) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	r.errors += o.errors
}

func (r loadResult) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r loadResult) p99() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	slices.Sort(r.lat)
	return r.lat[len(r.lat)*99/100]
}

// load sends GET url from nsPath with workers concurrent clients for d. With
// keepAlive false every request has a connection of its own, which the
// client closes once it has the answer: the client, not the pod, holds the
// TIME_WAIT, as it would with the client's own address. (Were the pod to hold
// it, a masqueraded connection reusing a port the pod saw from the node
// before could be refused by PAWS, and the load generator would measure the
// client's per-destination TCP timestamps rather than the proxy.)
func load(nsPath, url string, keepAlive bool, workers int, d time.Duration) loadResult {
	var mu sync.Mutex
	var total loadResult
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(nsPath)
			c.Transport.(*http.Transport).DisableKeepAlives = false
			var r loadResult
			for time.Now().Before(deadline) {
				t0 := time.Now()
				_, err := getWith(c, url)
				if !keepAlive {
					c.CloseIdleConnections()
				}
				if err != nil {
					r.errors++
					continue
				}
				r.lat = append(r.lat, time.Since(t0))
				r.requests++
			}
			c.CloseIdleConnections()
			mu.Lock()
			total.requests += r.requests
			total.errors += r.errors
			total.lat = append(total.lat, r.lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}

// BenchmarkServiceThroughput measures requests/s and p99 latency to one pod
// directly and through the proxy, with keep-alive connections and with a new
// connection per request: from another pod (pod IP vs ClusterIP; DNAT only),
// and from another host on the node's link (pod IP routed by the node vs
// the LoadBalancer IP and the NodePort; DNAT and masquerade). Targets
// alternate in short rounds so that other load on the machine falls on all
// alike; the figures that matter are the ratios to the direct path.
func BenchmarkServiceThroughput(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates network namespaces and nftables rules")
	}
	n := setupNet(b)
	n.serve(n.podA, "pod-a")
	port := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}
	lb := svc("kubia", v1.ServiceTypeLoadBalancer, "10.43.0.10", port)
	lb.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "10.99.0.10"}}
	kube := fake.NewClientset(lb, slice("kubia", port, 8080, ep("10.42.0.2", nil)))
	startProxy(b, kube, n)

	type target struct{ name, ns, url string }
	groups := [][]target{{ // the first of each group is the direct path
		{"pod-direct", "/var/run/netns/" + n.podB, "http://10.42.0.2:8080/"},
		{"pod-clusterip", "/var/run/netns/" + n.podB, "http://10.43.0.10:80/"},
	}, {
		{"host-direct", n.clientPath, "http://10.42.0.2:8080/"},
		{"host-lb", n.clientPath, "http://10.99.0.10:80/"},
		{"host-nodeport", n.clientPath, "http://192.168.77.2:30080/"},
	}}
	const workers, rounds, slot = 4, 5, 300 * time.Millisecond
	for _, mode := range []struct {
		name      string
		keepAlive bool
	}{{"keepalive", true}, {"newconn", false}} {
		for _, g := range groups {
			res := make([]loadResult, len(g))
			for _, tg := range g { // warm up, and check every path answers
				if r := load(tg.ns, tg.url, mode.keepAlive, 1, 50*time.Millisecond); r.requests == 0 || r.errors > 0 {
					b.Fatalf("%s %s: %d requests, %d errors", mode.name, tg.name, r.requests, r.errors)
				}
			}
			for range rounds {
				for i, tg := range g {
					res[i].add(load(tg.ns, tg.url, mode.keepAlive, workers, slot))
				}
			}
			for i, tg := range g {
				if res[i].errors > 0 {
					b.Errorf("%s %s: %d failed requests", mode.name, tg.name, res[i].errors)
				}
				name := mode.name + "-" + tg.name
				b.ReportMetric(res[i].rps(), name+"-req/s")
				b.ReportMetric(float64(res[i].p99().Microseconds()), name+"-p99-µs")
				if i > 0 {
					b.ReportMetric(res[i].rps()/res[0].rps(), name+"/direct-req/s-ratio")
					b.ReportMetric(float64(res[i].p99())/float64(res[0].p99()), name+"/direct-p99-ratio")
				}
			}
		}
	}
	b.ReportMetric(0, "ns/op")
}
