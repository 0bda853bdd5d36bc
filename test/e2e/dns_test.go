package e2e

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// outsideName is what the stand-in for the node's own resolver knows.
const (
	outsideName = "outside.test."
	outsideIP   = "192.0.2.44"
)

// serveNodeResolver runs a resolver on 127.0.0.1:53 inside the node's
// network namespace, standing in for the node's own (the internet's names
// never leave the machine): it knows outsideName and denies the rest.
func serveNodeResolver(t *testing.T, ns string) {
	t.Helper()
	type result struct {
		pc  net.PacketConn
		err error
	}
	res := make(chan result, 1)
	go func() {
		// This thread enters the namespace and is never unlocked: Go ends it
		// with the goroutine, and the socket stays in the namespace.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- result{err: err}
			return
		}
		pc, err := net.ListenPacket("udp", "127.0.0.1:53")
		res <- result{pc, err}
	}()
	r := <-res
	if r.err != nil {
		t.Fatalf("a resolver in the node's namespace: %v", r.err)
	}
	srv := &dns.Server{PacketConn: r.pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if strings.EqualFold(q.Question[0].Name, outsideName) && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(outsideName + " 60 IN A " + outsideIP)
			m.Answer = append(m.Answer, rr)
		} else if !strings.EqualFold(q.Question[0].Name, outsideName) {
			m.Rcode = dns.RcodeNameError
			soa, _ := dns.NewRR("test. 60 IN SOA ns.test. admin.test. 1 7200 1800 86400 30")
			m.Ns = append(m.Ns, soa)
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
}

const dnsWorkloads = `
apiVersion: v1
kind: Service
metadata: {name: kubia}
spec:
  selector: {app: kubia}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: kubia-1, labels: {app: kubia}}
spec:
  containers: [{name: kubia, image: luksa/kubia}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-a, labels: {app: web}}
spec:
  hostname: web-a
  subdomain: web
  containers: [{name: kubia, image: luksa/kubia}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-b, labels: {app: web}}
spec:
  hostname: web-b
  subdomain: web
  containers: [{name: kubia, image: luksa/kubia}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: outside.test
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers: [{name: kubia, image: luksa/kubia}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  containers: [{name: kubia, image: luksa/kubia, command: [/kubia, poll, "http://127.0.0.1:1/"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  containers: [{name: sh, image: busybox, command: [sh, -c, "sleep 3600"]}]
`

// TestClusterDNSOnARealNode: pods resolve the cluster's names through the
// node's DNS server behind the kube-dns Service: a Service, a headless
// Service's pods and a pod's hostname.subdomain, an ExternalName, SRV and PTR,
// and an outside name through the node's resolver, with kubectl exec from
// busybox's nslookup and from a Go program (the pod's resolv.conf, search path
// and ndots).
func TestClusterDNSOnARealNode(t *testing.T) {
	requireRoot(t)
	resolvConf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolvConf, []byte("nameserver 127.0.0.1\nsearch corp.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "--resolv-conf", resolvConf)
	// The node's own packets to a ClusterIP need a route before the proxy's
	// rules see them, as on any host with a default route; this one ends at
	// the namespace's own veth pair.
	sh(t, "ip", "-n", n.ns, "route", "add", "default", "dev", "eth0")
	serveNodeResolver(t, n.ns)
	n.pushShellImage()

	if out := n.mustKubectl("get", "svc", "-n", "kube-system", "kube-dns", "--no-headers"); !strings.Contains(out, "10.43.0.10") {
		t.Fatalf("kube-dns Service: %s", out)
	}
	if out := n.mustKubectl("cluster-info"); !strings.Contains(out, "KubeDNS is running at") {
		t.Errorf("cluster-info does not list KubeDNS:\n%s", out)
	}
	n.eventually("kube-dns endpoint on node-1", 30*time.Second, func() (bool, string) {
		out, err := n.kubectl("get", "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns", "-o", "jsonpath={.items[*].endpoints[*].addresses[0]}")
		return err == nil && out == "10.42.0.1", out
	})

	manifest := filepath.Join(t.TempDir(), "dns.yaml")
	if err := os.WriteFile(manifest, []byte(dnsWorkloads), 0o644); err != nil {
		t.Fatal(err)
	}
	n.mustKubectl("apply", "-f", manifest)
	n.eventually("the pods Ready", 120*time.Second, func() (bool, string) {
		out, err := n.kubectl("get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status} {end}")
		return err == nil && strings.Count(out, "=True") == 6, out
	})
	ipOf := func(what string, args ...string) string {
		out := strings.TrimSpace(n.mustKubectl(append([]string{"get"}, append(args, "-o", "jsonpath="+what)...)...))
		if net.ParseIP(out) == nil {
			t.Fatalf("%v: %q is no address", args, out)
		}
		return out
	}
	kubiaIP := ipOf("{.spec.clusterIP}", "svc", "kubia")
	webA, webB := ipOf("{.status.podIP}", "pod", "web-a"), ipOf("{.status.podIP}", "pod", "web-b")

	resolv := n.mustKubectl("exec", "client", "--", "/kubia", "cat", "/etc/resolv.conf")
	for _, want := range []string{"nameserver 10.43.0.10", "search default.svc.cluster.local svc.cluster.local cluster.local corp.test", "options ndots:5"} {
		if !strings.Contains(resolv, want) {
			t.Errorf("the pod's resolv.conf has no %q:\n%s", want, resolv)
		}
	}

	lookup := func(want []string, args ...string) {
		t.Helper()
		n.eventually("kubia lookup "+strings.Join(args, " "), 30*time.Second, func() (bool, string) {
			out, err := n.kubectl(append([]string{"exec", "client", "--", "/kubia", "lookup"}, args...)...)
			got := strings.Fields(out)
			slices.Sort(got)
			return err == nil && slices.Equal(got, want), out
		})
	}
	lookup([]string{kubiaIP}, "kubia")
	lookup([]string{kubiaIP}, "kubia.default")
	lookup([]string{kubiaIP}, "kubia.default.svc.cluster.local")
	lookup(sorted(webA, webB), "web")
	lookup([]string{webA}, "web-a.web")
	lookup([]string{"8080", "8080", "web-a.web.default.svc.cluster.local.", "web-b.web.default.svc.cluster.local."}, "_http._tcp.web", "SRV")
	lookup([]string{"kubia.default.svc.cluster.local."}, kubiaIP, "PTR")
	lookup([]string{outsideName}, "ext", "CNAME")
	lookup([]string{outsideIP}, "ext")
	// An outside name goes down the search path (denied at once by the
	// cluster's domains and the node's) and then out, through the node's
	// resolver.
	lookup([]string{outsideIP}, "outside.test")

	// A pod on the node's network with ClusterFirstWithHostNet: the node
	// itself reaches the kube-dns Service.
	n.eventually("kubia lookup kubia from a host-network pod", 30*time.Second, func() (bool, string) {
		out, err := n.kubectl("exec", "hostnet", "--", "/kubia", "lookup", "kubia")
		return err == nil && strings.TrimSpace(out) == kubiaIP, out
	})

	if out, err := n.kubectl("exec", "client", "--", "/kubia", "get", "http://kubia:8080"); err != nil || !strings.HasPrefix(out, "You've hit kubia-1") {
		t.Errorf("kubia get http://kubia:8080: %v\n%s", err, out)
	}
	n.eventually("busybox nslookup kubia", 30*time.Second, func() (bool, string) {
		out, err := n.kubectl("exec", "shell", "--", "sh", "-c", "nslookup kubia.default.svc.cluster.local")
		return err == nil && strings.Contains(out, kubiaIP), out
	})
	n.eventually("busybox wget http://kubia:8080", 30*time.Second, func() (bool, string) {
		out, err := n.kubectl("exec", "shell", "--", "sh", "-c", "wget -qO- http://kubia:8080")
		return err == nil && strings.HasPrefix(out, "You've hit kubia-1"), out
	})
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
