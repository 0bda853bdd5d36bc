package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// runningProxy is a Proxy running in a test's node namespace.
type runningProxy struct {
	*Proxy
	cancel context.CancelFunc
	done   chan error
}

// startProxy runs a proxy for node-1 (192.168.77.2) on kube's objects and
// waits for its first sync. Stopping it leaves the table; the test's cleanup
// removes it.
func startProxy(t testing.TB, kube kubernetes.Interface, n *testNet) *runningProxy {
	t.Helper()
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	p, err := New(kube, informers.NewSharedInformerFactory(kube, 0), Options{
		NodeName:    "node-1",
		NodeIPs:     []net.IP{net.ParseIP("192.168.77.2")},
		ClusterCIDR: cidr,
		NetNSPath:   n.nodePath,
		Logger:      testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rp := &runningProxy{Proxy: p, cancel: cancel, done: make(chan error, 1)}
	go func() { rp.done <- p.Run(ctx) }()
	t.Cleanup(func() { rp.stop(t); p.Cleanup() })
	select {
	case <-p.Ready():
	case err := <-rp.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy not ready after 10s")
	}
	return rp
}

func (rp *runningProxy) stop(t testing.TB) {
	if rp.cancel == nil {
		return
	}
	rp.cancel()
	rp.cancel = nil
	if err := <-rp.done; err != nil {
		t.Errorf("Run returned %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
	}
}

// nft runs nft in the node namespace.
func (n *testNet) nft(args ...string) string {
	n.t.Helper()
	out, err := exec.Command("nsenter", append([]string{"--net=" + n.nodePath, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var handleRE = regexp.MustCompile(`# handle (\d+)`)

// ruleHandles lists the handles of the rules of the chains whose names start
// with prefix: a rewritten chain gets new ones.
func (n *testNet) ruleHandles(prefix string) []string {
	n.t.Helper()
	var handles []string
	chain := ""
	for _, line := range strings.Split(n.nft("-a", "list", "table", "ip", TableName), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "chain ") {
			chain = strings.Fields(line)[1]
			continue
		}
		if strings.HasPrefix(chain, prefix) && !strings.HasPrefix(line, "type ") {
			if m := handleRE.FindStringSubmatch(line); m != nil {
				handles = append(handles, chain+"#"+m[1])
			}
		}
	}
	if len(handles) == 0 {
		n.t.Fatalf("no rules in chains %s*", prefix)
	}
	return handles
}

func (n *testNet) setElements(set string) string {
	n.t.Helper()
	return n.nft("list", "set", "ip", TableName, set)
}

// which reports the pod that answers url from nsPath, failing the test on an
// error.
func which(t *testing.T, nsPath, url string) string {
	t.Helper()
	body, _, err := getFrom(nsPath, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return body
}

func updateSlice(t *testing.T, kube kubernetes.Interface, s *discoveryv1.EndpointSlice) {
	t.Helper()
	if _, err := kube.DiscoveryV1().EndpointSlices(s.Namespace).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

var httpPort = v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}

func sticky(name, ip string) *v1.Service {
	s := svc(name, v1.ServiceTypeClusterIP, ip, httpPort)
	s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	s.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](600)}}
	return s
}

var podIPs = map[string]string{"pod-a": "10.42.0.2", "pod-b": "10.42.0.3"}

// TestIncrementalSync changes one Service and checks that no other Service's
// rules are rewritten and that affinity entries survive: those of untouched
// Services, and those of the endpoints a changed Service keeps.
func TestIncrementalSync(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	n.serve(n.podB, "pod-b")
	bSlice := slice("b", httpPort, 8080, ep("10.42.0.2", nil))
	aSlice := slice("a", httpPort, 8080, ep("10.42.0.2", nil), ep("10.42.0.3", nil))
	kube := fake.NewClientset(sticky("a", "10.43.0.20"), aSlice, svc("b", v1.ServiceTypeClusterIP, "10.43.0.21", httpPort), bSlice)
	p := startProxy(t, kube, n)

	first := which(t, n.nodePath, "http://10.43.0.20:80/")
	affinity := "affinity-default/a/tcp/http__" + podIPs[first] + "/8080"
	if set := n.setElements(affinity); !strings.Contains(set, "192.168.77.2") {
		t.Fatalf("affinity set after a request from 192.168.77.2:\n%s", set)
	}
	aHandles := n.ruleHandles("svc-default/a/")
	aEPHandles := n.ruleHandles("ep-default/a/")
	bHandles := n.ruleHandles("svc-default/b/")

	t.Run("changing one Service rewrites only its chains", func(t *testing.T) {
		bSlice.Endpoints = append(bSlice.Endpoints, ep("10.42.0.3", nil))
		updateSlice(t, kube, bSlice)
		waitFor(t, "b's new endpoint programmed", func() bool {
			return strings.Contains(n.nft("list", "chain", "ip", TableName, "svc-default/b/tcp/http"), "10.42.0.3")
		})
		if st := p.stats(); st.Full || st.Changed != 1 {
			t.Errorf("sync after one change: %+v, want incremental with 1 changed service port", st)
		}
		if got := n.ruleHandles("svc-default/a/"); !slices.Equal(got, aHandles) {
			t.Errorf("untouched service a's rules were rewritten: handles %v, then %v", aHandles, got)
		}
		if got := n.ruleHandles("ep-default/a/"); !slices.Equal(got, aEPHandles) {
			t.Errorf("untouched service a's endpoint rules were rewritten: handles %v, then %v", aEPHandles, got)
		}
		if got := n.ruleHandles("svc-default/b/"); slices.Equal(got, bHandles) {
			t.Errorf("changed service b's rules kept their handles %v", got)
		}
		if set := n.setElements(affinity); !strings.Contains(set, "192.168.77.2") {
			t.Fatalf("untouched service a lost its affinity entry:\n%s", set)
		}
		for range 10 {
			if got := which(t, n.nodePath, "http://10.43.0.20:80/"); got != first {
				t.Fatalf("sticky service answered from %s, then %s", first, got)
			}
		}
	})

	t.Run("a changed Service keeps the affinity of the endpoints it keeps", func(t *testing.T) {
		other := "10.42.0.3"
		if first == "pod-b" {
			other = "10.42.0.2"
		}
		kept := aSlice.DeepCopy()
		aSlice.Endpoints = []discoveryv1.Endpoint{ep(podIPs[first], nil)}
		updateSlice(t, kube, aSlice)
		waitFor(t, "a's endpoint removed", func() bool {
			return !strings.Contains(n.nft("list", "chain", "ip", TableName, "svc-default/a/tcp/http"), other)
		})
		kept.ResourceVersion = ""
		aSlice.Endpoints = kept.Endpoints
		updateSlice(t, kube, aSlice)
		waitFor(t, "a's endpoint back", func() bool {
			return strings.Contains(n.nft("list", "chain", "ip", TableName, "svc-default/a/tcp/http"), other)
		})
		if set := n.setElements(affinity); !strings.Contains(set, "192.168.77.2") {
			t.Fatalf("service a lost the affinity entry of the endpoint it kept:\n%s", set)
		}
		for range 10 {
			if got := which(t, n.nodePath, "http://10.43.0.20:80/"); got != first {
				t.Fatalf("sticky service answered from %s, then %s", first, got)
			}
		}
	})

	t.Run("deleting a Service removes its chains and map elements", func(t *testing.T) {
		if err := kube.CoreV1().Services("default").Delete(context.Background(), "b", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "b's rules removed", func() bool {
			out := n.nft("list", "table", "ip", TableName)
			return !strings.Contains(out, "10.43.0.21") && !strings.Contains(out, "default/b/")
		})
		if st := p.stats(); st.Full || st.Changed != 1 {
			t.Errorf("sync after a delete: %+v, want incremental with 1 changed service port", st)
		}
		if got := n.ruleHandles("svc-default/a/"); len(got) != len(aHandles) {
			t.Errorf("service a's rules after b was deleted: %v", got)
		}
	})
}

// TestRestartKeepsFlowsAndAffinity stops the proxy, changes Services while
// it is down, and starts a new one: established connections keep working,
// affinity entries survive, leftovers of deleted Services go, and nothing
// outside the proxy's table is touched, even by Cleanup.
func TestRestartKeepsFlowsAndAffinity(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	n.serve(n.podB, "pod-b")
	n.nft("add", "table", "ip", "someone-else")
	n.nft("add", "chain", "ip", "someone-else", "input", "{ type filter hook input priority 10; }")
	kube := fake.NewClientset(
		svc("kubia", v1.ServiceTypeClusterIP, "10.43.0.10", httpPort),
		slice("kubia", httpPort, 8080, ep("10.42.0.2", nil), ep("10.42.0.3", nil)),
		sticky("sticky", "10.43.0.12"), slice("sticky", httpPort, 8080, ep("10.42.0.2", nil), ep("10.42.0.3", nil)),
		svc("gone", v1.ServiceTypeClusterIP, "10.43.0.13", httpPort), slice("gone", httpPort, 8080, ep("10.42.0.2", nil)))
	p1 := startProxy(t, kube, n)

	// A keep-alive connection through the ClusterIP, from another host.
	c := client(n.clientPath)
	c.Transport.(*http.Transport).DisableKeepAlives = false
	var reused []bool
	get := func() string {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://10.43.0.10:80/", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET ClusterIP on a kept-alive connection: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	first := get()
	stuck := which(t, n.nodePath, "http://10.43.0.12:80/")
	affinity := "affinity-default/sticky/tcp/http__" + podIPs[stuck] + "/8080"

	p1.stop(t)
	if err := kube.CoreV1().Services("default").Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	late := svc("late", v1.ServiceTypeClusterIP, "10.43.0.14", httpPort)
	if _, err := kube.CoreV1().Services("default").Create(context.Background(), late, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	p2 := startProxy(t, kube, n)
	if st := p2.stats(); !st.Full {
		t.Errorf("first sync of a restarted proxy: %+v, want a full one", st)
	}
	if second := get(); second != first || len(reused) != 2 || !reused[1] {
		t.Fatalf("across a restart: answers %q then %q, connection reused %v; want the same pod on the same connection", first, second, reused)
	}
	if set := n.setElements(affinity); !strings.Contains(set, "192.168.77.2") {
		t.Fatalf("restart dropped the affinity entry:\n%s", set)
	}
	for range 10 {
		if got := which(t, n.nodePath, "http://10.43.0.12:80/"); got != stuck {
			t.Fatalf("sticky service answered from %s before the restart, %s after", stuck, got)
		}
	}
	table := n.nft("list", "table", "ip", TableName)
	if strings.Contains(table, "default/gone/") || strings.Contains(table, "10.43.0.13") {
		t.Errorf("a Service deleted while the proxy was down left rules:\n%s", table)
	}
	if !strings.Contains(table, "10.43.0.14") {
		t.Errorf("a Service created while the proxy was down is not programmed:\n%s", table)
	}
	if _, err := getFromTimeout(n.nodePath, "http://10.43.0.14:80/", time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("late Service without endpoints: %v, want connection refused", err)
	}

	p2.stop(t)
	if err := p2.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if out, err := n.nftList(); err == nil {
		t.Fatalf("table still present after Cleanup:\n%s", out)
	}
	if out := n.nft("list", "tables"); !strings.Contains(out, "someone-else") {
		t.Fatalf("Cleanup removed another table; tables left:\n%s", out)
	}
}

// getFromTimeout is getFrom with a client timeout of d.
func getFromTimeout(nsPath, url string, d time.Duration) (string, error) {
	c := client(nsPath)
	c.Timeout = d
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestStartOverAnIncompatibleTable starts the proxy over a table of its name
// that it cannot reconcile in place (a hooked chain of another priority): it
// replaces the table, and Services work.
func TestStartOverAnIncompatibleTable(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	n.nft("add", "table", "ip", TableName)
	n.nft("add", "chain", "ip", TableName, "nat-prerouting", "{ type nat hook prerouting priority 50; }")
	n.nft("add", "chain", "ip", TableName, "stale")
	kube := fake.NewClientset(svc("kubia", v1.ServiceTypeClusterIP, "10.43.0.10", httpPort),
		slice("kubia", httpPort, 8080, ep("10.42.0.2", nil)))
	startProxy(t, kube, n)
	if got := which(t, n.nodePath, "http://10.43.0.10:80/"); got != "pod-a" {
		t.Fatalf("ClusterIP answered from %s", got)
	}
	table := n.nft("list", "table", "ip", TableName)
	if strings.Contains(table, "priority 50") || strings.Contains(table, "chain stale") {
		t.Fatalf("the old table's chains survived:\n%s", table)
	}
}
