package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// podsByNode reads `kubectl get pods -o wide` for the RC's pods: name → node,
// name → IP, counting only Running and ready ones.
func (l *lab) readyPods(selector string) (nodeOf, ipOf map[string]string, out string) {
	out, _ = l.kubectl("get", "pods", "-l", selector, "-o", "wide", "--no-headers")
	nodeOf, ipOf = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		// NAME READY STATUS RESTARTS [AGE...] AGE IP NODE NOMINATED READINESS
		if len(f) < 7 || f[1] != "1/1" || f[2] != "Running" {
			continue
		}
		node, ip := f[len(f)-3], f[len(f)-4]
		nodeOf[f[0]], ipOf[f[0]] = node, ip
	}
	return nodeOf, ipOf, out
}

// podToPod checks that a pod on node `from` reaches a pod on node `to` at its
// IP and that the receiver sees the sender's pod IP (no NAT on the way).
func (l *lab) podToPod(selector, from, to string) {
	l.t.Helper()
	nodeOf, ipOf, out := l.readyPods(selector)
	var src, dst string
	for p, n := range nodeOf {
		if n == from && src == "" {
			src = p
		}
		if n == to && dst == "" {
			dst = p
		}
	}
	if src == "" || dst == "" {
		l.t.Fatalf("want a ready pod on %s and on %s:\n%s", from, to, out)
	}
	body := l.mustKubectl("exec", src, "--", "/kubia", "get", "http://"+ipOf[dst]+":8080/")
	if !strings.Contains(body, "You've hit "+dst) {
		l.t.Fatalf("%s (on %s) → %s:8080 (%s on %s) answered %q", src, from, ipOf[dst], dst, to, body)
	}
	l.eventually(dst+" logs the sender's pod IP", 10*time.Second, func() (bool, string) {
		logs, _ := l.kubectl("logs", dst)
		return strings.Contains(logs, "Received request from "+ipOf[src]+":"), fmt.Sprintf("want %s in:\n%s", ipOf[src], logs)
	})
}

// runKubia6 runs the seed's RC with 6 replicas and waits until they are
// ready on all three nodes.
func (l *lab) runKubia6() {
	l.t.Helper()
	l.mustKubectl("run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1")
	l.mustKubectl("scale", "rc", "kubia", "--replicas=6")
	l.waitSpread("run=kubia", 6, 3)
}

// exposeKubia exposes the RC as the seed does and returns its EXTERNAL-IP.
func (l *lab) exposeKubia() string {
	l.t.Helper()
	l.mustKubectl("expose", "rc", "kubia", "--type=LoadBalancer", "--name", "kubia-http")
	var ip string
	l.eventually("EXTERNAL-IP assigned", 30*time.Second, func() (bool, string) {
		out, _ := l.kubectl("get", "svc", "kubia-http", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		ip = strings.TrimSpace(out)
		return ip != "", out
	})
	return ip
}

// waitSpread waits for want ready pods of selector on exactly nodes nodes.
func (l *lab) waitSpread(selector string, want, nodes int) {
	l.t.Helper()
	l.eventually(fmt.Sprintf("%d ready pods spread over %d nodes", want, nodes), 120*time.Second, func() (bool, string) {
		nodeOf, _, out := l.readyPods(selector)
		per := map[string]int{}
		for _, n := range nodeOf {
			per[n]++
		}
		return len(nodeOf) == want && len(per) == nodes, out
	})
}

func (l *lab) waitNodes(want int) {
	l.t.Helper()
	l.eventually(fmt.Sprintf("%d Ready nodes", want), 90*time.Second, func() (bool, string) {
		out, _ := l.kubectl("get", "nodes", "-o", "wide", "--no-headers")
		return strings.Count(out, " Ready ") == want, out
	})
}

// TestMultiNodeHostGW: three nodes on one link. The seed's RC spreads over all
// of them, pods reach pods across nodes with no NAT, the LoadBalancer answers
// on every node, and losing node 3 moves its pods to nodes 1 and 2 until it
// comes back.
func TestMultiNodeHostGW(t *testing.T) {
	requireRoot(t)
	l := newLab(t, "host-gw", 1, 1, 1)
	l.server()
	l.agent(2)
	l.agent(3)
	l.waitNodes(3)
	wide := l.mustKubectl("get", "nodes", "-o", "wide")
	for _, n := range l.nodes {
		if !strings.Contains(wide, n.ip) {
			t.Fatalf("get nodes -o wide does not show %s's address %s:\n%s", n.name, n.ip, wide)
		}
	}

	l.runKubia6()
	l.podToPod("run=kubia", "node-1", "node-3")
	l.podToPod("run=kubia", "node-3", "node-2")

	externalIP := l.exposeKubia()
	for i := 1; i <= 3; i++ {
		l.eventually(fmt.Sprintf("curl %s:8080 from node-%d", externalIP, i), 30*time.Second, func() (bool, string) {
			out, err := l.in(i, "curl", "-s", "--max-time", "3", externalIP+":8080")
			return err == nil && strings.HasPrefix(out, "You've hit kubia-"), fmt.Sprint(out, err)
		})
	}

	// Cluster DNS on every node: a pod on each reaches the Service by name,
	// through its own node's DNS server (the kube-dns Service is Local).
	clusterIP := strings.TrimSpace(l.mustKubectl("get", "svc", "kubia-http", "-o", "jsonpath={.spec.clusterIP}"))
	nodeOf, _, _ := l.readyPods("run=kubia")
	for _, node := range []string{"node-1", "node-2", "node-3"} {
		var pod string
		for p, n := range nodeOf {
			if n == node {
				pod = p
				break
			}
		}
		if pod == "" {
			t.Fatalf("no kubia pod on %s: %v", node, nodeOf)
		}
		l.eventually("kubia lookup kubia-http from "+node, 30*time.Second, func() (bool, string) {
			out, err := l.kubectl("exec", pod, "--", "/kubia", "lookup", "kubia-http")
			return err == nil && strings.TrimSpace(out) == clusterIP, fmt.Sprint(out, err)
		})
		if out, err := l.kubectl("exec", pod, "--", "/kubia", "get", "http://kubia-http:8080"); err != nil || !strings.HasPrefix(out, "You've hit kubia-") {
			t.Errorf("kubia get http://kubia-http:8080 from %s: %v %s", node, err, out)
		}
	}
	dnsEndpoints := l.mustKubectl("get", "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns",
		"-o", "jsonpath={range .items[*].endpoints[*]}{.nodeName}={.addresses[0]} {end}")
	for _, n := range l.nodes {
		if !strings.Contains(dnsEndpoints, n.name+"=10.42.") {
			t.Errorf("kube-dns endpoints %q lack %s", dnsEndpoints, n.name)
		}
	}

	// Node loss: node 3's agent and containerd die at once.
	killed := time.Now()
	l.nodes[2].kill()
	l.eventually("node-3 NotReady", 60*time.Second, func() (bool, string) {
		out, _ := l.kubectl("get", "node", "node-3", "--no-headers")
		return strings.Contains(out, "NotReady"), out
	})
	l.eventually("6 ready replicas on nodes 1 and 2", 120*time.Second, func() (bool, string) {
		nodeOf, _, out := l.readyPods("run=kubia")
		onLive := 0
		for _, n := range nodeOf {
			if n == "node-1" || n == "node-2" {
				onLive++
			}
		}
		ready, _ := l.kubectl("get", "rc", "kubia", "-o", "jsonpath={.status.readyReplicas}")
		return onLive == 6 && strings.TrimSpace(ready) == "6", out
	})
	t.Logf("node loss: %v from killing node-3 to 6 ready replicas on the other nodes", time.Since(killed).Round(100*time.Millisecond))

	l.agent(3)
	l.waitNodes(3)
	l.eventually("node-3's stale pods are gone", 60*time.Second, func() (bool, string) {
		out, _ := l.kubectl("get", "pods", "-o", "wide", "--no-headers")
		return !strings.Contains(out, "node-3"), out
	})

	// A clean shutdown with --drain moves node 2's pods away before it stops,
	// and the next start uncordons it.
	l.nodes[1].stop()
	l.agent(2, "--drain")
	l.waitNodes(3)
	l.nodes[1].stop()
	nodeOf, _, out := l.readyPods("run=kubia")
	for p, n := range nodeOf {
		if n == "node-2" {
			t.Fatalf("pod %s still on node-2 after its agent drained and stopped:\n%s", p, out)
		}
	}
	if got := l.mustKubectl("get", "node", "node-2", "--no-headers"); !strings.Contains(got, "SchedulingDisabled") {
		t.Fatalf("node-2 is not cordoned after the drain: %s", got)
	}
	if !strings.Contains(l.nodes[1].log(), `Node "node-2" drained`) {
		t.Fatalf("the agent did not report the drain:\n%s", tail(l.nodes[1].log(), 20))
	}
	l.agent(2)
	l.eventually("node-2 uncordoned by its next start", 30*time.Second, func() (bool, string) {
		out, _ := l.kubectl("get", "node", "node-2", "--no-headers")
		return strings.Contains(out, " Ready ") && !strings.Contains(out, "SchedulingDisabled"), out
	})
}

// TestMultiNodeVXLAN: node 3 sits on another subnet behind a router, so only
// the VXLAN overlay carries pod traffic between them; still no NAT. The server
// gives LoadBalancers addresses from --lb-pool, which every node answers.
func TestMultiNodeVXLAN(t *testing.T) {
	requireRoot(t)
	l := newLab(t, "vxlan", 1, 1, 2)
	l.server("--lb-pool", "10.99.1.200/29")
	l.agent(2)
	l.agent(3)
	l.waitNodes(3)
	l.runKubia6()
	l.podToPod("run=kubia", "node-1", "node-3")
	l.podToPod("run=kubia", "node-3", "node-2")
	// A LoadBalancer address from --lb-pool answers on every node and, through
	// the node that answers its ARP, to a host on the link.
	lbIP := l.exposeKubia()
	if !strings.HasPrefix(lbIP, "10.99.1.20") {
		t.Fatalf("EXTERNAL-IP %s is not from --lb-pool 10.99.1.200/29", lbIP)
	}
	curlFrom := func(where string, ns string) {
		l.eventually("curl "+lbIP+":8080 from "+where, 30*time.Second, func() (bool, string) {
			out, err := inNetns(ns, "curl", "-s", "--max-time", "3", lbIP+":8080")
			return err == nil && strings.HasPrefix(out, "You've hit kubia-"), fmt.Sprint(out, err)
		})
	}
	for _, n := range l.nodes {
		curlFrom(n.name, n.ns)
	}
	curlFrom("a host on the link", l.switchN)

	// Pods leave room for the VXLAN headers (the lab's links are 1500).
	nodeOf, _, _ := l.readyPods("run=kubia")
	for p := range nodeOf {
		if mtu := strings.TrimSpace(l.mustKubectl("exec", p, "--", "/kubia", "cat", "/sys/class/net/eth0/mtu")); mtu != "1450" {
			t.Fatalf("pod %s on %s has MTU %s, want 1450", p, nodeOf[p], mtu)
		}
	}
}

// BenchmarkNodeLoss: three nodes, an RC of 6 spread over them; node 3 dies
// (agent and containerd killed). Reports the time until the node is NotReady
// and until 6 replicas are ready on the other nodes, with a grace period of 8s
// and tolerations of 2s (the lab's settings).
func BenchmarkNodeLoss(b *testing.B) {
	requireRoot(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := newLab(b, "host-gw", 1, 1, 1)
		l.server()
		l.agent(2)
		l.agent(3)
		l.waitNodes(3)
		l.runKubia6()
		b.StartTimer()
		killed := time.Now()
		l.nodes[2].kill()
		var notReady time.Duration
		l.eventually("6 ready replicas on nodes 1 and 2", 120*time.Second, func() (bool, string) {
			if notReady == 0 {
				if out, _ := l.kubectl("get", "node", "node-3", "--no-headers"); strings.Contains(out, "NotReady") {
					notReady = time.Since(killed)
				}
			}
			nodeOf, _, out := l.readyPods("run=kubia")
			onLive := 0
			for _, n := range nodeOf {
				if n != "node-3" {
					onLive++
				}
			}
			return onLive == 6, out
		})
		recovered := time.Since(killed)
		b.StopTimer()
		// Node 3 comes back and removes what its killed runtime left behind.
		l.agent(3)
		l.waitNodes(3)
		b.ReportMetric(notReady.Seconds(), "s-to-NotReady")
		b.ReportMetric(recovered.Seconds(), "s-to-6-ready")
		b.Logf("node loss: NotReady after %v, 6 replicas ready on nodes 1-2 after %v (grace period 8s, tolerations 2s)",
			notReady.Round(100*time.Millisecond), recovered.Round(100*time.Millisecond))
	}
}
