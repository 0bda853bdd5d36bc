package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// haPods is the size of the rollout the server dies in the middle of: 300
// with SKIFF_HA_PODS=300 (the figure; a 2-core host starts about 20
// kubia pods a minute, so that run takes most of an hour there); the test
// suite runs a smaller one. A worker runs at most 100 of them (a node holds
// 110 pods, and its /24 of pod addresses), so a larger rollout gets more
// workers.
func haPods() int {
	if n, err := strconv.Atoi(os.Getenv("SKIFF_HA_PODS")); err == nil && n > 0 {
		return n
	}
	return 24
}

// haPodsPerWorker is how many of the rollout's pods a worker runs at most.
const haPodsPerWorker = 100

// TestHighAvailability: three servers, each with an etcd member (node 1 made
// the cluster, nodes 2 and 3 joined it), and workers (node 4 on, one per 100
// pods) that joined node 1. Node 1 dies (kill -9) in the middle of a rollout:
// the API answers through node 2 at once, the control loops go on from
// another server, the workers stay Ready (they reach the API through their
// balancers), the rollout
// completes and no acknowledged write is lost; node 1 comes back and rejoins.
func TestHighAvailability(t *testing.T) {
	requireRoot(t)
	n := haPods()
	workers := (n + haPodsPerWorker - 1) / haPodsPerWorker
	subnets := []int{1, 1, 1}
	for range workers {
		subnets = append(subnets, 1)
	}
	l := newLab(t, "host-gw", subnets...)
	// The servers run no pods of their own: the worker runs them all.
	l.server("--cluster-init", "--disable-agent", "--node-monitor-grace-period", "20s")
	serverToken, err := os.ReadFile(filepath.Join(l.nodes[0].dataDir, "server", "server-token"))
	if err != nil {
		t.Fatal(err)
	}
	serverArgs := func(i int) []string {
		n := l.nodes[i-1]
		return []string{"server", "--data-dir", n.dataDir, "--node-ip", n.ip, "--node-name", n.name,
			"--server", "https://" + l.nodes[0].ip + ":6443", "--token", strings.TrimSpace(string(serverToken)),
			"--disable-agent", "--network-backend", l.backend, "--node-monitor-grace-period", "20s"}
	}
	l.nodes[1].start(serverArgs(2), "Skiff is ready")
	l.nodes[2].start(serverArgs(3), "Skiff is ready")
	for i := range workers {
		l.agent(4 + i)
	}
	// kubectl through node 2, which stays up.
	k2 := func(args ...string) (string, error) { return kubectlIn(t, l.nodes[1].ns, l.nodes[1].dataDir, args...) }
	l.eventually("the workers Ready", 90*time.Second, func() (bool, string) {
		out, _ := k2("get", "nodes", "--no-headers")
		return strings.Contains(out, "node-4 ") && strings.Count(out, " Ready ") == workers, out
	})
	l.eventually("three servers in the kubernetes endpoints", 30*time.Second, func() (bool, string) {
		out, _ := k2("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
		return len(strings.Fields(out)) == 3, out
	})

	mustK2 := func(args ...string) string {
		t.Helper()
		out, err := k2(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	mustK2("create", "deployment", "web", "--image=luksa/kubia", "--replicas="+strconv.Itoa(n))
	// A 2-core host starts about 20 kubia pods a minute.
	podsTime := max(5*time.Minute, time.Duration(n)*5*time.Second)
	l.eventually(fmt.Sprintf("%d pods ready", n), podsTime, func() (bool, string) {
		out, _ := k2("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
		return out == strconv.Itoa(n), out
	})
	// Writes acknowledged before the loss.
	for i := range 10 {
		mustK2("create", "configmap", fmt.Sprintf("acked-%d", i), "--from-literal=i="+strconv.Itoa(i))
	}

	// The rollout starts; node 1 (the etcd cluster's founder, the worker's
	// server and, being first, the loops' leader) dies in its middle.
	mustK2("set", "env", "deployment/web", "GENERATION=2")
	time.Sleep(2 * time.Second)
	// What one kubectl call takes on this host now, the rollout running:
	// the floor under the figures below.
	start := time.Now()
	mustK2("get", "--raw", "/readyz")
	floor := time.Since(start)
	l.nodes[0].kill()
	killed := time.Now()
	var answered time.Duration
	l.eventually("the API answering through node 2", 30*time.Second, func() (bool, string) {
		out, err := k2("get", "--raw", "/readyz")
		if err == nil && answered == 0 {
			answered = time.Since(killed)
		}
		return err == nil, out
	})
	t.Logf("the API answered through node 2 %v after node 1 died (one kubectl call took %v just before)",
		answered.Round(10*time.Millisecond), floor.Round(10*time.Millisecond))
	if answered > floor+5*time.Second {
		t.Errorf("the API took %v to answer through node 2", answered)
	}
	// A write needs the quorum of the two members left.
	l.eventually("a write through node 2", 30*time.Second, func() (bool, string) {
		out, err := k2("create", "configmap", "after-loss")
		return err == nil || strings.Contains(out, "already exists"), out
	})
	t.Logf("a write went through node 2 %v after node 1 died", time.Since(killed).Round(10*time.Millisecond))
	l.eventually("the loops on another server", 60*time.Second, func() (bool, string) {
		out, _ := k2("get", "lease", "-n", "kube-system", "kube-controller-manager", "-o", "jsonpath={.spec.holderIdentity}")
		// The holder is the server's name and its instance ID.
		name, _, _ := strings.Cut(out, "_")
		return name == "node-2" || name == "node-3", out
	})
	t.Logf("the loops ran on another server %v after node 1 died", time.Since(killed).Round(10*time.Millisecond))
	l.eventually("the rollout completing", podsTime, func() (bool, string) {
		out, _ := k2("rollout", "status", "deployment/web", "--timeout=5s")
		return strings.Contains(out, "successfully rolled out"), out
	})
	t.Logf("the rollout of %d pods completed %v after node 1 died", n, time.Since(killed).Round(time.Second))
	out := mustK2("get", "nodes", "--no-headers")
	if strings.Count(out, " Ready ") != workers {
		t.Errorf("the workers after their server died: %s", out)
	}
	for i := range 10 {
		if out, err := k2("get", "configmap", fmt.Sprintf("acked-%d", i)); err != nil {
			t.Errorf("acknowledged write acked-%d lost: %v\n%s", i, err, out)
		}
	}
	l.eventually("the kubernetes endpoints without node 1", 60*time.Second, func() (bool, string) {
		out, _ := k2("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
		return len(strings.Fields(out)) == 2 && !strings.Contains(out, l.nodes[0].ip+" "), out
	})

	// Node 1 comes back: its member rejoins and it serves what was written
	// while it was down.
	first := l.nodes[0]
	first.start([]string{"server", "--data-dir", first.dataDir, "--node-ip", first.ip, "--node-name", first.name,
		"--disable-agent", "--network-backend", l.backend}, "Skiff is ready")
	l.eventually("node 1 serving the write made while it was down", 60*time.Second, func() (bool, string) {
		out, err := l.kubectl("get", "configmap", "after-loss")
		return err == nil, out
	})
}
