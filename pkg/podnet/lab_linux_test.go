package podnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/agent/netns"
)

// A lab models a cluster's nodes as network namespaces on this machine: a
// core namespace is either the switch all nodes hang off (bridge lab0, one
// subnet) or a router between one subnet per node. Each node namespace has
// the pod bridge skiff0 on its pod CIDR 10.42.I.0/24 and pod namespaces
// 10.42.I.2, .3, ... on it, as the node agent's CNI configuration would
// make them. Nothing in it has a route out of the lab.
type lab struct {
	t      testing.TB
	routed bool
	core   string // netns name
	nodes  []*labNode
	logs   *logBuf
}

type labNode struct {
	name, ns, path string // Node name, netns name, netns path
	ip, podCIDR    string
	pods           []labPod
	net            *Network
	stop           func()
}

type labPod struct{ ns, path, ip string }

var labSeq atomic.Int32

func requireRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, routes and vxlan devices")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) in PATH")
	}
}

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *lab) addNS(name string) string {
	l.ip("netns", "add", name)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	l.ip("-n", name, "link", "set", "lo", "up")
	return "/run/netns/" + name
}

// newLab builds nodes namespaces with podsPerNode pods each; routed puts
// every node on its own subnet behind a router, so they share no link.
func newLab(t testing.TB, routed bool, nodes, podsPerNode int) *lab {
	requireRoot(t)
	prefix := fmt.Sprintf("skpn%d-%d", os.Getpid(), labSeq.Add(1))
	l := &lab{t: t, routed: routed, core: prefix + "-core", logs: &logBuf{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("podnet logs:\n%s", l.logs)
		}
	})
	corePath := l.addNS(l.core)
	if routed {
		if err := netns.Do(corePath, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644) }); err != nil {
			t.Fatal(err)
		}
	} else {
		l.ip("-n", l.core, "link", "add", "lab0", "type", "bridge")
		l.ip("-n", l.core, "link", "set", "lab0", "up")
	}
	for i := 1; i <= nodes; i++ {
		n := &labNode{name: fmt.Sprintf("node-%d", i), ns: fmt.Sprintf("%s-n%d", prefix, i), podCIDR: fmt.Sprintf("10.42.%d.0/24", i)}
		n.path = l.addNS(n.ns)
		port := fmt.Sprintf("port%d", i)
		l.ip("-n", l.core, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
		if routed {
			n.ip = fmt.Sprintf("192.168.%d.2", 200+i)
			l.ip("-n", l.core, "addr", "add", fmt.Sprintf("192.168.%d.1/24", 200+i), "dev", port)
			l.ip("-n", l.core, "link", "set", port, "up")
			l.ip("-n", n.ns, "addr", "add", n.ip+"/24", "dev", "eth0")
			l.ip("-n", n.ns, "link", "set", "eth0", "up")
			l.ip("-n", n.ns, "route", "add", "192.168.200.0/21", "via", fmt.Sprintf("192.168.%d.1", 200+i))
		} else {
			n.ip = fmt.Sprintf("192.168.200.%d", 10+i)
			l.ip("-n", l.core, "link", "set", port, "master", "lab0", "up")
			l.ip("-n", n.ns, "addr", "add", n.ip+"/24", "dev", "eth0")
			l.ip("-n", n.ns, "link", "set", "eth0", "up")
		}
		l.ip("-n", n.ns, "link", "add", "skiff0", "type", "bridge")
		l.ip("-n", n.ns, "addr", "add", fmt.Sprintf("10.42.%d.1/24", i), "dev", "skiff0")
		l.ip("-n", n.ns, "link", "set", "skiff0", "up")
		for j := 1; j <= podsPerNode; j++ {
			p := labPod{ns: fmt.Sprintf("%s-n%dp%d", prefix, i, j), ip: fmt.Sprintf("10.42.%d.%d", i, j+1)}
			p.path = l.addNS(p.ns)
			veth := fmt.Sprintf("vp%d", j)
			l.ip("-n", n.ns, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", p.ns)
			l.ip("-n", n.ns, "link", "set", veth, "master", "skiff0", "up")
			l.ip("-n", p.ns, "addr", "add", p.ip+"/24", "dev", "eth0")
			l.ip("-n", p.ns, "link", "set", "eth0", "up")
			l.ip("-n", p.ns, "route", "add", "default", "via", fmt.Sprintf("10.42.%d.1", i))
			n.pods = append(n.pods, p)
		}
		l.nodes = append(l.nodes, n)
	}
	return l
}

// nodeObjects are the Nodes as the agent and node IPAM would leave them.
func (l *lab) nodeObjects() []*corev1.Node {
	var out []*corev1.Node
	for _, n := range l.nodes {
		out = append(out, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.name},
			Spec:       corev1.NodeSpec{PodCIDR: n.podCIDR, PodCIDRs: []string{n.podCIDR}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.ip}, {Type: corev1.NodeHostName, Address: n.name}}},
		})
	}
	return out
}

// start runs podnet on every node and waits until each has synced once.
func (l *lab) start(client kubernetes.Interface, backend Backend) {
	l.t.Helper()
	_, cluster, _ := net.ParseCIDR("10.42.0.0/16")
	for _, n := range l.nodes {
		nw, err := New(client, informers.NewSharedInformerFactory(client, 0), Options{
			NodeName: n.name, NodeIP: net.ParseIP(n.ip), ClusterCIDR: cluster, Backend: backend,
			NetNS: n.path, ResyncPeriod: 300 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("on", n.name),
		})
		if err != nil {
			l.t.Fatalf("New for %s: %v", n.name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- nw.Run(ctx) }()
		n.net = nw
		n.stop = sync.OnceFunc(func() {
			cancel()
			if err := <-done; err != nil {
				l.t.Errorf("Run on %s: %v", n.name, err)
			}
		})
		l.t.Cleanup(n.stop)
	}
	for _, n := range l.nodes {
		select {
		case <-n.net.Ready():
		case <-time.After(10 * time.Second):
			l.t.Fatalf("podnet on %s not ready after 10s", n.name)
		}
	}
}

// stopAll ends every node's Run and removes what it made.
func (l *lab) stopAll() {
	l.t.Helper()
	for _, n := range l.nodes {
		n.stop()
		if err := n.net.Cleanup(); err != nil {
			l.t.Errorf("Cleanup on %s: %v", n.name, err)
		}
	}
}

// setPodMTU gives every pod interface mtu, as the CNI bridge plugin does
// with the MTU in its configuration.
func (l *lab) setPodMTU(mtu int) {
	for _, n := range l.nodes {
		for j, p := range n.pods {
			l.ip("-n", n.ns, "link", "set", fmt.Sprintf("vp%d", j+1), "mtu", strconv.Itoa(mtu))
			l.ip("-n", p.ns, "link", "set", "eth0", "mtu", strconv.Itoa(mtu))
		}
	}
}

// inspect gives fn a netlink handle inside the node's namespace.
func inspect(t testing.TB, n *labNode, fn func(h handle)) {
	t.Helper()
	var h handle
	err := netns.Do(n.path, func() (err error) {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fn(h)
}

// routesOf is podnet's routes on the node, "dst via gw".
func routesOf(t testing.TB, n *labNode) []string {
	t.Helper()
	var out []string
	inspect(t, n, func(h handle) {
		rs, err := ownedRoutes(h)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s via %s", r.Dst, r.Gw))
		}
	})
	return out
}

// eventually retries cond for up to 10s.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: not so after 10s; last: %s", what, last)
}

// Each pod runs two servers: on 7000 it answers the address it sees the
// client at; on 7001 it reads everything and answers how many bytes came.
const (
	whoamiPort = 7000
	sinkPort   = 7001
)

func (l *lab) serve(p labPod) {
	for _, port := range []int{whoamiPort, sinkPort} {
		var ln net.Listener
		err := netns.Do(p.path, func() (err error) {
			ln, err = net.Listen("tcp4", fmt.Sprintf("%s:%d", p.ip, port))
			return err
		})
		if err != nil {
			l.t.Fatalf("listen in %s: %v", p.ns, err)
		}
		l.t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					if port == whoamiPort {
						host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
						fmt.Fprintln(c, host)
						return
					}
					n, _ := io.Copy(io.Discard, c)
					fmt.Fprintln(c, n)
				}()
			}
		}()
	}
}

func (l *lab) serveAll() {
	for _, n := range l.nodes {
		for _, p := range n.pods {
			l.serve(p)
		}
	}
}

func dial(from labPod, to string, port int) (net.Conn, error) {
	return netns.Dialer{Path: from.path, Timeout: 2 * time.Second}.DialContext(context.Background(), "tcp4", fmt.Sprintf("%s:%d", to, port))
}

// whoami is the address the pod at ip sees a connection from pod from come
// from.
func whoami(from labPod, ip string) (string, error) {
	c, err := dial(from, ip, whoamiPort)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// send pushes size bytes from pod from to the pod at ip and returns how
// long it took until the receiver had them all.
func send(from labPod, ip string, size int64) (time.Duration, error) {
	c, err := dial(from, ip, sinkPort)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	buf := make([]byte, 256<<10)
	for left := size; left > 0; {
		chunk := min(left, int64(len(buf)))
		if _, err := c.Write(buf[:chunk]); err != nil {
			return 0, err
		}
		left -= chunk
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("waiting for the receiver's count: %w", err)
	}
	if got := strings.TrimSpace(line); got != strconv.FormatInt(size, 10) {
		return 0, fmt.Errorf("receiver got %s bytes, sent %d", got, size)
	}
	return took, nil
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func netIP(s string) net.IP { return net.ParseIP(s) }
