package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	skiffdns "github.com/skiffhq/skiff/pkg/dns"
	"github.com/skiffhq/skiff/test/harness"
)

const (
	dnsServices   = 1000
	dnsNamespaces = 10
	dnsEndpoints  = 10 // ready endpoints in each Service's EndpointSlice
)

// dnsName is the name of Service i: svc-i in namespace ns-(i mod 10).
func dnsName(i int) string {
	return fmt.Sprintf("svc-%d.ns-%d.svc.cluster.local.", i, i%dnsNamespaces)
}

// BenchmarkDNS compares Skiff's cluster DNS with CoreDNS's kubernetes plugin,
// both fed by the same skiff server process holding 1,000 Services of 10
// endpoints each: queries per second for Service names (A records), p50 and
// p99 latency, under one load generator of 2×GOMAXPROCS UDP clients that
// each send the next query when the answer arrives. b.N is the number of
// queries, so -benchtime 3s loads each server for about 3 seconds;
// skiff-qps-ratio is Skiff's qps over CoreDNS's in the same run.
//
// Skiff's DNS runs in this process, CoreDNS in its own, the generator in a
// third (this test binary again): each server shares this machine's cores
// with the generator the same way, one server after the other, and the table
// at the end says how many cores. cpu-µs/query is all the CPU the run used,
// the generator's included, which a busy machine blurs less than qps. Memory
// is, for Skiff, the Go heap and goroutine stacks this process holds for the
// DNS server and its informer caches once collected; for CoreDNS, its
// resident memory, all of it and the anonymous part (without the pages of
// its binary).
//
// CoreDNS comes from scripts/coredns.sh (or COREDNS_BIN); without it only
// Skiff's figures are measured. It runs twice: with the kubernetes plugin
// alone, and with the cache in front of it as Kubernetes deploys it.
func BenchmarkDNS(b *testing.B) {
	p := harness.StartProcess(b, "", "--disable-controllers")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clusterIP := createDNSServices(ctx, b, p.Client)
	clients := 2 * runtime.GOMAXPROCS(0)

	// Skiff's DNS, in this process. What it holds is measured as the heap it
	// adds, once the collector has freed what building the Services left.
	before := heapNow()
	factory := informers.NewSharedInformerFactory(p.Client, 0)
	srv, err := skiffdns.New(factory, skiffdns.Options{
		Domain:    "cluster.local",
		Listen:    []string{"127.0.0.1:0"},
		Upstreams: []string{closedUDPAddr(b)}, // nothing leaves the machine
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var runErr error
	done := make(chan struct{})
	go func() { runErr = srv.Run(runCtx); close(done) }()
	defer func() {
		stop()
		<-done
		if runErr != nil && !errors.Is(runErr, context.Canceled) {
			b.Errorf("dns.Server.Run: %v", runErr)
		}
	}()
	select {
	case <-srv.Ready():
	case <-done:
		b.Fatalf("dns.Server.Run: %v", runErr)
	case <-time.After(30 * time.Second):
		b.Fatal("Skiff's DNS not ready after 30s")
	}
	skiffAddr := srv.Addrs()[0].String()
	waitForDNS(b, "Skiff", skiffAddr, clusterIP, nil)

	results := map[string]*dnsLoad{}
	b.Run("Skiff", func(b *testing.B) {
		r := loadDNS(b, skiffAddr, clients, selfCPU)
		r.report(b)
		mem := heapNow().sub(before)
		r.memory = fmt.Sprintf("Go heap %.1f MB live, %.1f MB in use with stacks", mb(mem.HeapAlloc), mb(mem.HeapInuse+mem.StackInuse))
		b.ReportMetric(mb(mem.HeapAlloc), "heap-live-MB")
		b.ReportMetric(mb(mem.HeapInuse+mem.StackInuse), "inuse-MB")
		results["Skiff"] = r
	})
	stop()
	rows := []string{"Skiff"}

	bin := os.Getenv("COREDNS_BIN")
	if bin == "" {
		bin = "/tmp/skiff-coredns/coredns"
		if dir := os.Getenv("COREDNS_DIR"); dir != "" {
			bin = filepath.Join(dir, "coredns")
		}
	}
	_, noCoreDNS := os.Stat(bin)
	for _, variant := range []struct{ name, plugins string }{
		{"CoreDNS", ""},
		{"CoreDNSCache", "cache 30"},
	} {
		var coredns *harness.Process
		var addr string
		if noCoreDNS == nil {
			coredns, addr = startCoreDNS(b, bin, p.Kubeconfig, variant.plugins)
			waitForDNS(b, variant.name, addr, clusterIP, coredns)
		}
		b.Run(variant.name, func(b *testing.B) {
			if coredns == nil {
				b.Skipf("no CoreDNS binary at %s: build it with scripts/coredns.sh (or set COREDNS_BIN)", bin)
			}
			r := loadDNS(b, addr, clients, func() time.Duration { return selfCPU() + serverCPU(b, coredns) })
			r.report(b)
			mem := coredns.Memory(b)
			r.memory = fmt.Sprintf("RSS %.1f MB, %.1f MB of it anonymous", mb(mem.RSS), mb(mem.Anon))
			b.ReportMetric(mb(mem.RSS), "rss-MB")
			b.ReportMetric(mb(mem.Anon), "anon-MB")
			if skiff := results["Skiff"]; skiff != nil {
				b.ReportMetric(skiff.qps()/r.qps(), "skiff-qps-ratio")
			}
			results[variant.name] = r
		})
		if coredns != nil {
			coredns.Kill()
		}
		rows = append(rows, variant.name)
	}

	// A parent benchmark's log shows only with -v: the table goes to the
	// output as it is.
	fmt.Printf("\n| DNS, %d Services × %d endpoints, %d UDP clients, %d cores | qps | p50 / p99 | CPU per query (with the generator's) | memory |\n|---|---|---|---|---|\n",
		dnsServices, dnsEndpoints, clients, runtime.GOMAXPROCS(0))
	for _, name := range rows {
		r := results[name]
		if r == nil {
			fmt.Printf("| %s | not measured | | | |\n", name)
			continue
		}
		ratio := ""
		if s := results["Skiff"]; name != "Skiff" && s != nil {
			ratio = fmt.Sprintf(" (Skiff %.2fx)", s.qps()/r.qps())
		}
		fmt.Printf("| %s | %.0f%s | %.0f / %.0f µs | %.1f µs | %s |\n", name, r.qps(), ratio,
			us(r.P50), us(r.P99), us(r.CPU)/float64(r.Answered), r.memory)
	}
	if noCoreDNS != nil {
		fmt.Printf("CoreDNS not measured: no binary at %s; build it with scripts/coredns.sh (or set COREDNS_BIN)\n", bin)
	}
	fmt.Println()
}

func mb[T int64 | uint64](n T) float64 { return float64(n) / (1 << 20) }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// createDNSServices creates the selector-less ClusterIP Services, each with
// an EndpointSlice of ready endpoints, and returns the Services' ClusterIPs.
func createDNSServices(ctx context.Context, b *testing.B, c kubernetes.Interface) []string {
	for n := range dnsNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%d", n)}}
		if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	ips := make([]string, dnsServices)
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ns, name := fmt.Sprintf("ns-%d", i%dnsNamespaces), fmt.Sprintf("svc-%d", i)
				svc, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: corev1.ServiceSpec{
						Type:  corev1.ServiceTypeClusterIP,
						Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
					},
				}, metav1.CreateOptions{})
				if err != nil {
					b.Error(err)
					continue
				}
				ips[i] = svc.Spec.ClusterIP
				if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(ctx, endpointSlice(name, i), metav1.CreateOptions{}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range dnsServices {
		work <- i
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	b.Logf("created %d Services and their EndpointSlices in %v", dnsServices, time.Since(start).Round(time.Millisecond))
	return ips
}

func endpointSlice(service string, i int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:   service + "-bench",
			Labels: map[string]string{discoveryv1.LabelServiceName: service},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for e := range dnsEndpoints {
		k := i*dnsEndpoints + e
		ip := netip.AddrFrom4([4]byte{10, 42, byte(k / 250), byte(k%250 + 1)})
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return s
}

// closedUDPAddr is a loopback address nothing listens on.
func closedUDPAddr(b *testing.B) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// startCoreDNS runs CoreDNS serving cluster.local from the server's API on a
// free loopback port, with plugins added to its server block ("cache 30").
func startCoreDNS(b *testing.B, bin, kubeconfig, plugins string) (*harness.Process, string) {
	dir := b.TempDir()
	addr := closedUDPAddr(b)
	_, port, _ := net.SplitHostPort(addr)
	corefile := fmt.Sprintf("cluster.local:%s {\n  bind 127.0.0.1\n  %s\n  kubernetes cluster.local {\n    kubeconfig %s\n  }\n}\n",
		port, plugins, kubeconfig)
	conf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(conf, []byte(corefile), 0o644); err != nil {
		b.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "coredns.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-conf", conf)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting CoreDNS: %v", err)
	}
	p := &harness.Process{Cmd: cmd, DataDir: dir}
	b.Cleanup(func() { p.Kill(); log.Close() })
	return p, addr
}

// waitForDNS waits until the server answers the last Service's A record with
// its ClusterIP, then checks every Service's answer once.
func waitForDNS(b *testing.B, name, addr string, clusterIP []string, proc *harness.Process) {
	c := &dns.Client{Timeout: time.Second}
	answer := func(i int) (string, error) {
		m := new(dns.Msg)
		m.SetQuestion(dnsName(i), dns.TypeA)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return "", err
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			return "", fmt.Errorf("%s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		a, ok := r.Answer[0].(*dns.A)
		if !ok {
			return "", fmt.Errorf("answer %v", r.Answer[0])
		}
		return a.A.String(), nil
	}
	last := dnsServices - 1
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := answer(last)
		if err == nil && got == clusterIP[last] {
			break
		}
		if time.Now().After(deadline) {
			var log []byte
			if proc != nil {
				log, _ = os.ReadFile(filepath.Join(proc.DataDir, "coredns.log"))
			}
			b.Fatalf("%s at %s: %s A: got %q, %v; want %s\n%s", name, addr, dnsName(last), got, err, clusterIP[last], log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range dnsServices {
		if got, err := answer(i); err != nil || got != clusterIP[i] {
			b.Fatalf("%s at %s: %s A: got %q, %v; want %s", name, addr, dnsName(i), got, err, clusterIP[i])
		}
	}
}

// dnsLoad is one load run's outcome, as the generator reports it and the
// benchmark completes it.
type dnsLoad struct {
	Answered, Lost int
	Elapsed        time.Duration
	P50, P99       time.Duration
	Err            string
	CPU            time.Duration `json:"-"` // generator's and server's, during the run
	memory         string        // what the server held after it
}

func (r *dnsLoad) qps() float64 { return float64(r.Answered) / r.Elapsed.Seconds() }

func (r *dnsLoad) report(b *testing.B) {
	b.ReportMetric(r.qps(), "qps")
	b.ReportMetric(us(r.P50), "p50-µs")
	b.ReportMetric(us(r.P99), "p99-µs")
	b.ReportMetric(us(r.CPU)/float64(r.Answered), "cpu-µs/query")
	if r.Lost > 0 {
		b.ReportMetric(float64(r.Lost), "lost")
	}
}

// loadDNS has a load generator in a process of its own send b.N queries to
// the server at addr and reports the run, with the CPU the generator used
// added to what cpu counts (this process's, and the server's if it runs
// apart). The generator runs apart so that both servers share the cores with
// it the same way: Skiff's DNS in this process, CoreDNS in its own.
func loadDNS(b *testing.B, addr string, clients int, cpu func() time.Duration) *dnsLoad {
	b.StopTimer()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", dnsLoadEnv, addr, b.N, clients))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the load generator: %v", err)
	}
	defer cmd.Process.Kill()
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); line != "ready\n" {
		b.Fatalf("load generator: %q, %v\n%s", line, err, stderr.String())
	}
	cpuStart := cpu()
	b.StartTimer()
	fmt.Fprintln(stdin, "go")
	var r dnsLoad
	err = json.NewDecoder(out).Decode(&r)
	b.StopTimer()
	if err != nil {
		b.Fatalf("load generator: %v\n%s", err, stderr.String())
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("load generator: %v\n%s", err, stderr.String())
	}
	if r.Err != "" {
		b.Fatalf("load on %s: %s", addr, r.Err)
	}
	r.CPU = cpu() - cpuStart + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return &r
}

// dnsLoadEnv is set, to "ADDR QUERIES CLIENTS", in the environment of the
// test binary run as BenchmarkDNS's load generator.
const dnsLoadEnv = "SKIFF_BENCH_DNS_LOAD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(dnsLoadEnv); spec != "" {
		generateDNSLoad(spec)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// generateDNSLoad is the load generator's process: it says "ready" once its
// sockets are open, starts on a line from its standard input and writes the
// run's dnsLoad as JSON.
func generateDNSLoad(spec string) {
	var addr string
	var total int64
	var clients int
	var r dnsLoad
	if _, err := fmt.Sscan(spec, &addr, &total, &clients); err != nil {
		r.Err = fmt.Sprintf("%s=%q: %v", dnsLoadEnv, spec, err)
	} else if err := r.generate(addr, total, clients); err != nil {
		r.Err = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(&r)
}

// generate sends total queries from clients UDP sockets, each sending the
// next query (for the next Service) when the answer to the last has arrived,
// and checks each answer's ID, code and that it has an answer record. A
// query without an answer in 500ms counts as lost.
func (r *dnsLoad) generate(addr string, total int64, clients int) error {
	queries := make([][]byte, dnsServices)
	for i := range queries {
		m := new(dns.Msg)
		m.SetQuestion(dnsName(i), dns.TypeA)
		wire, err := m.Pack()
		if err != nil {
			return err
		}
		queries[i] = wire
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	conns := make([]*net.UDPConn, clients)
	for i := range conns {
		if conns[i], err = net.DialUDP("udp", nil, raddr); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	var next atomic.Int64
	var failed atomic.Pointer[error]
	latency := make([][]time.Duration, clients)
	lost := make([]int, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, total/int64(clients)+1)
			q := make([]byte, 512)
			buf := make([]byte, 1232)
			var id uint16
			for n := next.Add(1) - 1; n < total && failed.Load() == nil; n = next.Add(1) - 1 {
				wire := queries[n%int64(len(queries))]
				q = append(q[:0], wire...)
				id++
				q[0], q[1] = byte(id>>8), byte(id)
				sent := time.Now()
				if _, err := conn.Write(q); err != nil {
					failed.Store(&err)
					return
				}
				_ = conn.SetReadDeadline(sent.Add(500 * time.Millisecond))
				for {
					size, err := conn.Read(buf)
					if errors.Is(err, os.ErrDeadlineExceeded) {
						lost[c]++
						break
					}
					if err != nil {
						failed.Store(&err)
						return
					}
					if size < 12 || uint16(buf[0])<<8|uint16(buf[1]) != id {
						continue // a late answer to a query counted lost
					}
					rcode, answers := buf[3]&0xf, uint16(buf[6])<<8|uint16(buf[7])
					if buf[2]&0x80 == 0 || rcode != dns.RcodeSuccess || answers == 0 {
						err := fmt.Errorf("answer to %x: rcode %s, %d answers", wire[12:], dns.RcodeToString[int(rcode)], answers)
						failed.Store(&err)
						return
					}
					lat = append(lat, time.Since(sent))
					break
				}
			}
			latency[c] = lat
		}()
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	if err := failed.Load(); err != nil {
		return *err
	}
	var all []time.Duration
	for c := range clients {
		all = append(all, latency[c]...)
		r.Lost += lost[c]
	}
	if len(all) == 0 {
		return fmt.Errorf("no answers from %s", addr)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r.Answered, r.P50, r.P99 = len(all), all[len(all)/2], all[len(all)*99/100]
	return nil
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heap is what the Go heap holds once collected.
type heap struct{ HeapAlloc, HeapInuse, StackInuse int64 }

func heapNow() heap {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return heap{int64(m.HeapAlloc), int64(m.HeapInuse), int64(m.StackInuse)}
}

func (h heap) sub(o heap) heap {
	return heap{h.HeapAlloc - o.HeapAlloc, h.HeapInuse - o.HeapInuse, h.StackInuse - o.StackInuse}
}
