package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
	"github.com/skiffhq/skiff/test/harness"
)

const (
	datastoreRounds   = 3    // rounds of the three servers, one after the other
	datastoreCreates  = 1000 // sequential creates measured
	datastoreGets     = 2000 // sequential GETs of one pod measured
	datastoreWarmup   = 100  // creates and GETs before measuring
	datastoreStorm    = 3000 // pods in the storm, then in each LIST
	datastoreCreators = 64   // concurrent creators in the storm
	datastoreLists    = 10   // LISTs of the storm's pods measured
)

// apiFigures are one API server's figures in one round of BenchmarkDatastore.
type apiFigures struct {
	createP50, createP99 time.Duration
	getP50, getP99       time.Duration
	listP50              time.Duration
	storm                time.Duration // first create sent to the last acknowledged
	stormP50, stormP99   time.Duration // each create's latency in the storm
	stormCPU             time.Duration // the server's CPU time over the storm
	mem                  harness.Memory
	// otherCPU is the CPU time that neither the server nor this process
	// (the client, and etcd) used while the figures were taken: another
	// program's load, which a reader should know of.
	otherCPU, elapsed time.Duration
}

// BenchmarkDatastore measures one API, three ways: Skiff on its bolt file,
// Skiff on etcd, and upstream's kube-apiserver on etcd, each a process of its
// own started fresh (with a fresh, fsync'ing etcd embedded in this process
// for the two on etcd), doing the same work for the same client-go client
// (protobuf, no client-side rate limit): sequential pod creates (p50/p99),
// sequential GETs of one pod (p50/p99), a storm of 3,000 pod creates from
// 64 concurrent creators (time until all are acknowledged), then LISTs of
// those 3,000 pods (their namespace, protobuf; the client does not decode
// the timed ones).
//
// Both servers run as API servers alone: Skiff with --disable-controllers,
// kube-apiserver as it is without a controller manager; neither runs the
// ServiceAccount admission plugin (no controller makes the accounts), so pods
// stay Pending and unscheduled in both. kube-apiserver keeps its other
// default admission plugins, its watch cache and priority and fairness (the
// admin's client certificate is in system:masters, which it exempts).
//
// On 2 shared cores one measurement moves with whatever else runs, so the
// three servers take turns for 3 rounds, each round on fresh servers and a
// fresh etcd, and the table at the end has each figure's median, the ratios
// Skiff on etcd ÷ kube-apiserver and Skiff on etcd ÷ Skiff on bolt of those
// medians, and how much CPU other programs took meanwhile. Each round's
// figures are reported too (SkiffBolt, SkiffBolt#01, ...). Each round also
// does the same work with etcd's own client on a fresh etcd (EtcdAlone: a
// create is a create-if-absent transaction, a GET a linearizable read, a LIST
// a range), the floor under both servers on etcd. One run is the
// measurement: -benchtime 1x.
//
// kube-apiserver comes from scripts/kube-apiserver.sh (or
// KUBE_APISERVER_BIN); without it its column is skipped.
func BenchmarkDatastore(b *testing.B) {
	results := map[string][]*apiFigures{}
	targets := []struct {
		name  string
		start func(b *testing.B) *harness.Process
	}{
		{"SkiffBolt", func(b *testing.B) *harness.Process {
			return harness.StartProcess(b, "", "--disable-controllers", "--disable-admission-plugins", "ServiceAccount")
		}},
		{"SkiffEtcd", func(b *testing.B) *harness.Process {
			e := etcdtest.Start(b, b.TempDir(), true)
			return harness.StartProcess(b, "", "--disable-controllers", "--disable-admission-plugins", "ServiceAccount",
				"--datastore-endpoint", e.Endpoint)
		}},
		{"KubeAPIServerEtcd", func(b *testing.B) *harness.Process {
			bin := kubeAPIServerBinary()
			if _, err := os.Stat(bin); err != nil {
				b.Skipf("no kube-apiserver at %s: build it with scripts/kube-apiserver.sh (or set KUBE_APISERVER_BIN)", bin)
			}
			e := etcdtest.Start(b, b.TempDir(), true)
			return startKubeAPIServer(b, bin, e.Endpoint)
		}},
	}
	for range datastoreRounds {
		for _, target := range targets {
			b.Run(target.name, func(b *testing.B) {
				if b.N > 1 {
					b.Skip("one run is the measurement; use -benchtime 1x")
				}
				p := target.start(b)
				f := measure(b, apiServerOps(b, p), p)
				f.report(b)
				results[target.name] = append(results[target.name], f)
			})
		}
		// The floor under both servers on etcd: the same work done by
		// etcd's own client, one transaction or read per request.
		b.Run("EtcdAlone", func(b *testing.B) {
			if b.N > 1 {
				b.Skip("one run is the measurement; use -benchtime 1x")
			}
			e := etcdtest.Start(b, b.TempDir(), true)
			f := measure(b, etcdOps(b, e.Endpoint), nil)
			f.report(b)
			results["EtcdAlone"] = append(results["EtcdAlone"], f)
		})
	}
	printDatastoreTable(results)
}

// storeOps are the benchmark's requests to one store: create a pod, read
// one, list a namespace's pods (and, when asked to count, decode them and
// return how many).
type storeOps struct {
	create func(ctx context.Context, ns, name string) error
	get    func(ctx context.Context, ns, name string) error
	list   func(ctx context.Context, ns string, count bool) (int, error)
}

// apiServerOps makes the namespaces bench and storm and returns requests
// to the server through a client-go client that speaks protobuf and has no
// client-side rate limit. A timed LIST's body is left encoded: what is timed
// is the server's work and the transfer, not the client's decoding.
func apiServerOps(b *testing.B, p *harness.Process) storeOps {
	cfg := rest.CopyConfig(p.Config)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.QPS, cfg.Burst = -1, 0
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, ns := range []string{"bench", "storm"} {
		if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return storeOps{
		create: func(ctx context.Context, ns, name string) error {
			_, err := c.CoreV1().Pods(ns).Create(ctx, pod(name), metav1.CreateOptions{})
			return err
		},
		get: func(ctx context.Context, ns, name string) error {
			_, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		},
		list: func(ctx context.Context, ns string, count bool) (int, error) {
			body, err := c.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").DoRaw(ctx)
			if err != nil || !count {
				return 0, err
			}
			var l corev1.PodList
			_, _, err = serializer.NewCodecFactory(scheme.Scheme).UniversalDeserializer().Decode(body, nil, &l)
			return len(l.Items), err
		},
	}
}

// etcdOps are the same requests made to etcd directly, as kube-apiserver
// makes them: a create is a transaction that puts the pod (protobuf) if its
// key has never been created, a read is a linearizable get, a LIST a range.
func etcdOps(b *testing.B, endpoint string) storeOps {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	enc := serializer.NewCodecFactory(scheme.Scheme).EncoderForVersion(protobufSerializer(b), corev1.SchemeGroupVersion)
	key := func(ns, name string) string { return "/registry/pods/" + ns + "/" + name }
	return storeOps{
		create: func(ctx context.Context, ns, name string) error {
			p := pod(name)
			p.Namespace = ns
			var value bytes.Buffer
			if err := enc.Encode(p, &value); err != nil {
				return err
			}
			k := key(ns, name)
			resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, value.String())).Commit()
			if err == nil && !resp.Succeeded {
				err = fmt.Errorf("%s exists", k)
			}
			return err
		},
		get: func(ctx context.Context, ns, name string) error {
			resp, err := cli.Get(ctx, key(ns, name))
			if err == nil && len(resp.Kvs) != 1 {
				err = fmt.Errorf("%s: not found", key(ns, name))
			}
			return err
		},
		list: func(ctx context.Context, ns string, _ bool) (int, error) {
			resp, err := cli.Get(ctx, key(ns, ""), clientv3.WithPrefix())
			if err != nil {
				return 0, err
			}
			return len(resp.Kvs), nil
		},
	}
}

// protobufSerializer is client-go's protobuf serializer for the core API.
func protobufSerializer(b *testing.B) k8sruntime.Encoder {
	for _, info := range serializer.NewCodecFactory(scheme.Scheme).SupportedMediaTypes() {
		if info.MediaType == "application/vnd.kubernetes.protobuf" {
			return info.Serializer
		}
	}
	b.Fatal("client-go has no protobuf serializer")
	return nil
}

// measure does the benchmark's work against one store; server, when not
// nil, is the process whose CPU time and memory are measured.
func measure(b *testing.B, ops storeOps, server *harness.Process) *apiFigures {
	ctx := context.Background()
	cpu := func() time.Duration {
		if server == nil {
			return 0
		}
		return serverCPU(b, server)
	}
	// Warm the connection, the server's caches and its code paths, then let
	// what start-up left running (kube-apiserver builds its OpenAPI, bootstraps
	// RBAC roles) finish, and other programs too, before timing anything.
	for i := range datastoreWarmup {
		name := fmt.Sprintf("warm-%d", i)
		if err := ops.create(ctx, "bench", name); err != nil {
			b.Fatal(err)
		}
		if err := ops.get(ctx, "bench", name); err != nil {
			b.Fatal(err)
		}
	}
	waitIdle(b)

	f := &apiFigures{}
	began, machineStart, serverStart, selfStart := time.Now(), machineCPU(b), cpu(), selfCPU()
	lat := make([]time.Duration, 0, datastoreGets)
	for i := range datastoreCreates {
		start := time.Now()
		if err := ops.create(ctx, "bench", fmt.Sprintf("seq-%d", i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	f.createP50, f.createP99 = percentiles(lat)

	lat = lat[:0]
	for range datastoreGets {
		start := time.Now()
		if err := ops.get(ctx, "bench", "seq-0"); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	f.getP50, f.getP99 = percentiles(lat)

	stormCPU := cpu()
	f.storm, f.stormP50, f.stormP99 = storm(b, func(i int) error {
		return ops.create(ctx, "storm", fmt.Sprintf("kubia-%05d", i))
	})
	f.stormCPU = cpu() - stormCPU

	lat = lat[:0]
	for range datastoreLists {
		start := time.Now()
		if _, err := ops.list(ctx, "storm", false); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	f.listP50, _ = percentiles(lat)
	f.elapsed = time.Since(began)
	f.otherCPU = (machineCPU(b) - machineStart) - (cpu() - serverStart) - (selfCPU() - selfStart)
	if n, err := ops.list(ctx, "storm", true); err != nil || n != datastoreStorm {
		b.Fatalf("LIST of namespace storm: %d pods (%v), want %d", n, err, datastoreStorm)
	}
	if server != nil {
		f.mem = server.Memory(b)
	}
	return f
}

// storm makes datastoreStorm creates from datastoreCreators concurrent
// creators and returns the time until the last was acknowledged and the
// creates' latency.
func storm(b *testing.B, create func(i int) error) (total, p50, p99 time.Duration) {
	lat := make([]time.Duration, datastoreStorm)
	work := make(chan int, datastoreStorm)
	for i := range datastoreStorm {
		work <- i
	}
	close(work)
	start := time.Now()
	var wg sync.WaitGroup
	for range datastoreCreators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				s := time.Now()
				if err := create(i); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(s)
			}
		}()
	}
	wg.Wait()
	total = time.Since(start)
	if b.Failed() {
		b.FailNow()
	}
	p50, p99 = percentiles(lat)
	return total, p50, p99
}

// waitIdle waits until the machine is quiet, every core together busy less
// than a fifth of one over half a second: the server done with what its
// start-up and the warm-up left, and other programs (a build, a test) paused.
// After 20 seconds it goes on, and the figures say how busy the others were.
func waitIdle(b *testing.B) {
	const window = 500 * time.Millisecond
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		before := machineCPU(b)
		time.Sleep(window)
		if machineCPU(b)-before < window/5 {
			return
		}
	}
	b.Logf("the machine is still busy 20 s after the warm-up; measuring anyway")
}

// otherPercent is otherCPU in percent of one core. It is counted in clock
// ticks and so a few points off: below zero reads as none.
func (f *apiFigures) otherPercent() float64 {
	return max(0, 100*f.otherCPU.Seconds()/f.elapsed.Seconds())
}

func (f *apiFigures) report(b *testing.B) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(f.createP50), "create-p50-ms")
	b.ReportMetric(ms(f.createP99), "create-p99-ms")
	b.ReportMetric(ms(f.getP50), "get-p50-ms")
	b.ReportMetric(ms(f.getP99), "get-p99-ms")
	b.ReportMetric(ms(f.listP50), "list3k-ms")
	b.ReportMetric(f.storm.Seconds(), "storm-s")
	b.ReportMetric(f.otherPercent(), "other-cpu-%")
	if f.mem.RSS > 0 { // a server of its own, not etcd alone
		b.ReportMetric(f.stormCPU.Seconds(), "storm-cpu-s")
		b.ReportMetric(mb(f.mem.RSS), "rss-MB")
	}
}

func printDatastoreTable(results map[string][]*apiFigures) {
	type row struct {
		name   string
		of     func(*apiFigures) float64
		unit   string
		server bool // a figure of a server process, not of etcd alone
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	rows := []row{
		{"create, sequential: p50", func(f *apiFigures) float64 { return ms(f.createP50) }, "ms", false},
		{"create, sequential: p99", func(f *apiFigures) float64 { return ms(f.createP99) }, "ms", false},
		{"GET one pod: p50", func(f *apiFigures) float64 { return ms(f.getP50) }, "ms", false},
		{"GET one pod: p99", func(f *apiFigures) float64 { return ms(f.getP99) }, "ms", false},
		{fmt.Sprintf("LIST %d pods (protobuf): p50 of %d", datastoreStorm, datastoreLists), func(f *apiFigures) float64 { return ms(f.listP50) }, "ms", false},
		{fmt.Sprintf("storm: %d pod creates, %d creators, to all acknowledged", datastoreStorm, datastoreCreators), func(f *apiFigures) float64 { return f.storm.Seconds() }, "s", false},
		{"storm: each create's p50", func(f *apiFigures) float64 { return ms(f.stormP50) }, "ms", false},
		{"storm: each create's p99", func(f *apiFigures) float64 { return ms(f.stormP99) }, "ms", false},
		{"storm: server CPU time", func(f *apiFigures) float64 { return f.stormCPU.Seconds() }, "s", true},
		{"server RSS at the end", func(f *apiFigures) float64 { return mb(f.mem.RSS) }, "MB", true},
		{"CPU other programs took while measuring (% of one core)", (*apiFigures).otherPercent, "%", false},
	}
	// median is the median of a figure over the rounds (the lower middle one
	// of an even count); ok is false when the server was not measured.
	median := func(name string, r row) (float64, bool) {
		var v []float64
		for _, f := range results[name] {
			v = append(v, r.of(f))
		}
		if len(v) == 0 {
			return 0, false
		}
		sort.Float64s(v)
		return v[(len(v)-1)/2], true
	}
	cell := func(name string, r row) string {
		if r.server && name == "EtcdAlone" {
			return ""
		}
		v, ok := median(name, r)
		if !ok {
			return "not measured"
		}
		return fmt.Sprintf("%.2f %s", v, r.unit)
	}
	ratio := func(x, y string, r row) string {
		vx, okx := median(x, r)
		vy, oky := median(y, r)
		if !okx || !oky || vy == 0 || r.unit == "%" {
			return ""
		}
		return fmt.Sprintf("%.2f×", vx/vy)
	}
	// A parent benchmark's log shows only with -v: the table goes to the
	// output as it is.
	fmt.Printf("\n| median of %d rounds; %d cores; etcd embedded in the benchmark, fsync on | Skiff, bolt | Skiff, etcd | kube-apiserver, etcd | etcd alone | Skiff etcd ÷ kube-apiserver | Skiff etcd ÷ Skiff bolt |\n|---|---|---|---|---|---|---|\n",
		datastoreRounds, runtime.GOMAXPROCS(0))
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.name, cell("SkiffBolt", r), cell("SkiffEtcd", r), cell("KubeAPIServerEtcd", r), cell("EtcdAlone", r),
			ratio("SkiffEtcd", "KubeAPIServerEtcd", r), ratio("SkiffEtcd", "SkiffBolt", r))
	}
	if bin := kubeAPIServerBinary(); len(results["KubeAPIServerEtcd"]) == 0 {
		if _, err := os.Stat(bin); err != nil {
			fmt.Printf("kube-apiserver not measured: no binary at %s; build it with scripts/kube-apiserver.sh (or set KUBE_APISERVER_BIN)\n", bin)
		} else {
			fmt.Println("kube-apiserver not measured: it failed (above)")
		}
	}
	fmt.Println()
}

// machineCPU is the CPU time every core of the machine has spent busy (or
// stolen by the hypervisor), from /proc/stat.
func machineCPU(b *testing.B) time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		b.Fatalf("/proc/stat: unexpected first line %q", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// kubeAPIServerBinary is where scripts/kube-apiserver.sh leaves the binary.
func kubeAPIServerBinary() string {
	if bin := os.Getenv("KUBE_APISERVER_BIN"); bin != "" {
		return bin
	}
	if dir := os.Getenv("KUBE_APISERVER_DIR"); dir != "" {
		return filepath.Join(dir, "kube-apiserver")
	}
	return "/tmp/skiff-kube-apiserver/kube-apiserver"
}

// startKubeAPIServer runs kube-apiserver on a free loopback port with its
// own CA, serving certificate, service-account key and an admin client
// certificate (system:masters) in a temp dir, keeping its state under its own
// prefix in the etcd at endpoint, and waits until /readyz answers ok.
func startKubeAPIServer(b *testing.B, bin, endpoint string) *harness.Process {
	dir := b.TempDir()
	ca, err := pki.EnsureCA(dir)
	if err != nil {
		b.Fatal(err)
	}
	loopback := net.IPv4(127, 0, 0, 1)
	servingCert, servingKey, err := ca.EnsureServing(dir, "apiserver", []string{"localhost"}, []net.IP{loopback})
	if err != nil {
		b.Fatal(err)
	}
	adminCert, adminKey, err := ca.EnsureClient(dir, "admin", "kubernetes-admin", []string{"system:masters"})
	if err != nil {
		b.Fatal(err)
	}
	saKey := filepath.Join(dir, "sa.key")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	// One file signs the tokens and verifies them: kube-apiserver reads a
	// public key out of an "EC PRIVATE KEY" block, not out of PKCS #8.
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		b.Fatal(err)
	}
	ports, err := etcdtest.FreePorts(1)
	if err != nil {
		b.Fatal(err)
	}
	url := "https://127.0.0.1:" + strconv.Itoa(ports[0])
	kubeconfig := filepath.Join(dir, "kubeconfig.yaml")
	if err := pki.WriteKubeconfig(kubeconfig, url, ca.CertPEM(), adminCert, adminKey); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--etcd-servers", endpoint,
		"--etcd-prefix", "/kube-apiserver",
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[0]),
		"--cert-dir", dir,
		"--tls-cert-file", servingCert,
		"--tls-private-key-file", servingKey,
		"--client-ca-file", filepath.Join(dir, "ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range", "10.96.0.0/12",
		"--authorization-mode", "Node,RBAC",
		"--disable-admission-plugins", "ServiceAccount",
		// The kubernetes Service's endpoints would name 127.0.0.1, which
		// Endpoints may not hold: the reconciler would fail every 10 s.
		"--endpoint-reconciler-type", "none",
	)
	logPath := filepath.Join(dir, "kube-apiserver.log")
	log, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting kube-apiserver: %v", err)
	}
	p := &harness.Process{Cmd: cmd, DataDir: dir, Kubeconfig: kubeconfig}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		log.Close()
	})
	if p.Config, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		b.Fatal(err)
	}
	if p.Client, err = kubernetes.NewForConfig(p.Config); err != nil {
		b.Fatal(err)
	}
	fail := func(format string, args ...any) {
		tail, _ := os.ReadFile(logPath)
		if len(tail) > 8000 {
			tail = tail[len(tail)-8000:]
		}
		b.Fatalf("kube-apiserver: "+format+"; the end of its log:\n%s", append(args, tail)...)
	}
	for deadline := time.Now().Add(120 * time.Second); ; {
		body, err := p.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err == nil && string(body) == "ok" {
			return p
		}
		select {
		case <-exited:
			fail("exited before it was ready (%v)", cmd.ProcessState)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			fail("not ready after 120 s (/readyz: %v)", err)
		}
	}
}
