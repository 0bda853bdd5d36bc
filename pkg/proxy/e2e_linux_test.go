package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// inNetNS runs fn on a thread that has entered the network namespace at path.
// Sockets fn creates stay in that namespace after the thread leaves it.
func inNetNS(path string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open(path)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", path, err)
	}
	defer func() {
		// A thread that cannot go back stays locked, so it dies with the goroutine.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

type testNet struct {
	t                        testing.TB
	node, podA, podB, client string // netns names
	nodePath, clientPath     string
}

func (n *testNet) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// setupNet builds a node namespace with bridge skiff0 (10.42.0.1/24), two pod
// namespaces (10.42.0.2 and .3) and a veth "uplink" holding the node IP
// 192.168.77.2 with the default route. The uplink's other end is a client
// namespace (192.168.77.3, another host on the node's link, routing through
// the node), so nothing can leave the namespaces.
func setupNet(t testing.TB) *testNet {
	suffix := fmt.Sprint(os.Getpid())
	n := &testNet{t: t, node: "skp-node-" + suffix, podA: "skp-pa-" + suffix, podB: "skp-pb-" + suffix, client: "skp-cl-" + suffix}
	n.nodePath = "/var/run/netns/" + n.node
	n.clientPath = "/var/run/netns/" + n.client
	for _, ns := range []string{n.node, n.podA, n.podB, n.client} {
		n.ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		n.ip("-n", ns, "link", "set", "lo", "up")
	}
	n.ip("-n", n.node, "link", "add", "skiff0", "type", "bridge")
	n.ip("-n", n.node, "addr", "add", "10.42.0.1/24", "dev", "skiff0")
	n.ip("-n", n.node, "link", "set", "skiff0", "up")
	n.ip("-n", n.node, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", n.client)
	n.ip("-n", n.node, "addr", "add", "192.168.77.2/24", "dev", "eth0")
	n.ip("-n", n.node, "link", "set", "eth0", "up")
	n.ip("-n", n.node, "route", "add", "default", "dev", "eth0")
	n.ip("-n", n.client, "addr", "add", "192.168.77.3/24", "dev", "eth0")
	n.ip("-n", n.client, "link", "set", "eth0", "up")
	n.ip("-n", n.client, "route", "add", "default", "via", "192.168.77.2")
	// What the node agent sets up on a real node: routing between pods and
	// the node, and bridged pod-to-pod replies passing through the NAT.
	err := inNetNS(n.nodePath, func() error {
		for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables"} {
			if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("node sysctls: %v", err)
	}
	for i, pod := range []string{n.podA, n.podB} {
		veth := fmt.Sprintf("veth%d", i)
		n.ip("-n", n.node, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", pod)
		n.ip("-n", n.node, "link", "set", veth, "master", "skiff0", "up")
		// As the CNI bridge plugin's hairpinMode does: a pod reaching itself
		// through a Service is bridged back out of the port it came in on.
		n.ip("-n", n.node, "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
		n.ip("-n", pod, "addr", "add", fmt.Sprintf("10.42.0.%d/24", i+2), "dev", "eth0")
		n.ip("-n", pod, "link", "set", "eth0", "up")
		n.ip("-n", pod, "route", "add", "default", "via", "10.42.0.1")
	}
	return n
}

// serve answers every request with name, from inside the pod namespace. It
// returns the server, to stop it early.
func (n *testNet) serve(pod, name string) *http.Server {
	var ln net.Listener
	err := inNetNS("/var/run/netns/"+pod, func() (err error) {
		ln, err = net.Listen("tcp4", ":8080")
		return err
	})
	if err != nil {
		n.t.Fatalf("listen in %s: %v", pod, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		w.Header().Set("X-Client-IP", host)
		fmt.Fprint(w, name)
	})}
	go srv.Serve(ln)
	n.t.Cleanup(func() { srv.Close() })
	return srv
}

// client makes one new connection per request from the namespace at nsPath.
func client(nsPath string) *http.Client {
	return &http.Client{
		Timeout: 3 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
				err = inNetNS(nsPath, func() error {
					c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		},
	}
}

func (n *testNet) get(url string) (string, error) {
	body, _, err := getFrom(n.nodePath, url)
	return body, err
}

// getFrom returns the body and the client address the server saw.
func getFrom(nsPath, url string) (body, clientIP string, err error) {
	resp, err := client(nsPath).Get(url)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.Header.Get("X-Client-IP"), err
}

func (n *testNet) nftList() (string, error) {
	out, err := exec.Command("nsenter", "--net="+n.nodePath, "nft", "list", "table", "ip", TableName).CombinedOutput()
	return string(out), err
}

// testLogger sends the proxy's log to the test's.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and nftables rules")
	}
	for _, bin := range []string{"ip", "nft", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s in PATH", bin)
		}
	}
}

func TestProxyEndToEnd(t *testing.T) {
	requireRoot(t)
	n := setupNet(t)
	n.serve(n.podA, "pod-a")
	n.serve(n.podB, "pod-b")

	httpPort := v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}
	kubia := svc("kubia", v1.ServiceTypeLoadBalancer, "10.43.0.10", httpPort)
	kubia.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "10.99.0.200"}}
	empty := svc("empty", v1.ServiceTypeClusterIP, "10.43.0.11", v1.ServicePort{Name: "http", Protocol: v1.ProtocolTCP, Port: 80})
	sticky := svc("sticky", v1.ServiceTypeClusterIP, "10.43.0.12", httpPort)
	sticky.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	sticky.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
	kube := fake.NewClientset(kubia, empty,
		slice("kubia", httpPort, 8080, ep("10.42.0.2", nil), ep("10.42.0.3", ptr.To(true))),
		sticky, slice("sticky", httpPort, 8080, ep("10.42.0.2", nil), ep("10.42.0.3", nil)))

	factory := informers.NewSharedInformerFactory(kube, 0)
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	p, err := New(kube, factory, Options{
		NodeIPs:     []net.IP{net.ParseIP("192.168.77.2")},
		ClusterCIDR: cidr,
		NetNSPath:   n.nodePath,
		Logger:      testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Cleanup() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	select {
	case <-p.Ready():
	case err := <-runErr:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy not ready after 10s")
	}
	if out, err := n.nftList(); err != nil {
		t.Fatalf("nft list: %v\n%s", err, out)
	} else {
		t.Logf("table:\n%s", out)
	}

	t.Run("ClusterIP reaches both endpoints", func(t *testing.T) {
		seen := map[string]int{}
		for range 30 {
			body, err := n.get("http://10.43.0.10:80/")
			if err != nil {
				t.Fatalf("GET ClusterIP: %v", err)
			}
			seen[body]++
		}
		if len(seen) != 2 || seen["pod-a"] == 0 || seen["pod-b"] == 0 {
			t.Fatalf("30 requests reached %v, want both pod-a and pod-b", seen)
		}
		t.Logf("distribution: %v", seen)
	})
	for _, tc := range []struct{ name, url string }{
		{"NodePort", "http://192.168.77.2:30080/"},
		{"LoadBalancer IP", "http://10.99.0.200:80/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, clientIP, err := getFrom(n.nodePath, tc.url)
			if err != nil {
				t.Fatalf("GET %s: %v", tc.url, err)
			}
			// The host's own address is outside the pod network: masqueraded.
			if clientIP != "10.42.0.1" {
				t.Errorf("GET %s: server saw client %s, want the masqueraded bridge address 10.42.0.1", tc.url, clientIP)
			}
			if body != "pod-a" && body != "pod-b" {
				t.Fatalf("GET %s = %q, want pod-a or pod-b", tc.url, body)
			}
		})
	}
	t.Run("pod to pod keeps the source IP, hairpin is masqueraded", func(t *testing.T) {
		seen := map[string]string{}
		for range 30 {
			body, clientIP, err := getFrom("/var/run/netns/"+n.podA, "http://10.43.0.10:80/")
			if err != nil {
				t.Fatalf("GET ClusterIP from pod-a: %v", err)
			}
			seen[body] = clientIP
		}
		if got := seen["pod-b"]; got != "10.42.0.2" {
			t.Errorf("pod-b saw pod-a's request come from %q, want pod-a's own 10.42.0.2 (seen %v)", got, seen)
		}
		if got := seen["pod-a"]; got != "10.42.0.1" {
			t.Errorf("pod-a reaching itself saw client %q, want masqueraded 10.42.0.1 (seen %v)", got, seen)
		}
	})
	t.Run("ClientIP affinity holds a client to one pod", func(t *testing.T) {
		seen := map[string]int{}
		for range 20 {
			body, err := n.get("http://10.43.0.12:80/")
			if err != nil {
				t.Fatalf("GET sticky ClusterIP: %v", err)
			}
			seen[body]++
		}
		if len(seen) != 1 {
			t.Fatalf("20 requests with ClientIP affinity reached %v, want one pod", seen)
		}
	})
	t.Run("a resync keeps established connections", func(t *testing.T) {
		c := client(n.nodePath)
		c.Transport.(*http.Transport).DisableKeepAlives = false
		var reused []bool
		get := func() string {
			t.Helper()
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", "http://10.43.0.10:80/", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("GET ClusterIP: %v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		first := get()
		other := svc("other", v1.ServiceTypeClusterIP, "10.43.0.99", httpPort)
		if _, err := kube.CoreV1().Services("default").Create(ctx, other, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if out, _ := n.nftList(); strings.Contains(out, "10.43.0.99") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("new service not programmed after 10s")
			}
		}
		if second := get(); second != first || len(reused) != 2 || !reused[1] {
			t.Fatalf("after a resync: answers %q then %q, connection reused %v; want the same pod on the same connection", first, second, reused)
		}
	})
	t.Run("no endpoints is refused at once", func(t *testing.T) {
		start := time.Now()
		_, err := n.get("http://10.43.0.11:80/")
		took := time.Since(start)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("GET service without endpoints: err = %v, want connection refused", err)
		}
		if took > time.Second {
			t.Fatalf("refusal took %v, want < 1s", took)
		}
	})
	t.Run("deleting the service removes its rules", func(t *testing.T) {
		if err := kube.CoreV1().Services("default").Delete(ctx, "kubia", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, err := n.nftList()
			if err == nil && !strings.Contains(out, "10.43.0.10") && !strings.Contains(out, "kubia") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rules for kubia still present after 10s:\n%s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if body, err := n.get("http://10.43.0.10:80/"); err == nil {
			t.Fatalf("ClusterIP of a deleted service still answers %q", body)
		}
	})
	t.Run("Cleanup removes the table", func(t *testing.T) {
		cancel()
		if err := <-runErr; err != nil {
			t.Fatalf("Run returned %v", err)
		}
		if out, err := n.nftList(); err != nil {
			t.Fatalf("table gone after Run returned; want it kept for restarts: %v\n%s", err, out)
		}
		if err := p.Cleanup(); err != nil {
			t.Fatal(err)
		}
		if out, err := n.nftList(); err == nil {
			t.Fatalf("table still present after Cleanup:\n%s", out)
		}
		if err := p.Cleanup(); err != nil {
			t.Fatalf("second Cleanup: %v", err)
		}
	})
}
