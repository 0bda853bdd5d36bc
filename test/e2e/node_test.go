// Package e2e runs whole Skiff nodes as root: the real skiff binary with its
// agent and containerd inside a network namespace the test creates, driven by
// kubectl. Every test removes what it made, even when it fails.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/images"
	"github.com/skiffhq/skiff/test/harness"
)

// node is one `skiff server` (with its agent) in its own network namespace.
type node struct {
	t       testing.TB
	ns      string
	dataDir string
	cmd     *exec.Cmd
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts containerd and pods in a network namespace (run `make test` as root)")
	}
	for _, bin := range []string{"containerd", "runc", "ip", "nsenter", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s (apt-get install containerd runc iproute2 util-linux curl)", bin)
		}
	}
}

func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startNode creates a namespace with one address (no route out of the
// machine), imports the demo image through the air-gap folder, and starts
// `skiff server` inside it.
func startNode(t testing.TB, extra ...string) *node {
	t.Helper()
	n := &node{t: t, ns: fmt.Sprintf("skiff-e2e-%d", os.Getpid()%100000), dataDir: t.TempDir()}
	sh(t, "ip", "netns", "add", n.ns)
	t.Cleanup(n.cleanup)
	sh(t, "ip", "-n", n.ns, "link", "set", "lo", "up")
	sh(t, "ip", "-n", n.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	sh(t, "ip", "-n", n.ns, "addr", "add", "10.99.0.1/24", "dev", "eth0")
	sh(t, "ip", "-n", n.ns, "link", "set", "eth0", "up")
	sh(t, "ip", "-n", n.ns, "link", "set", "eth1", "up")

	imgDir := filepath.Join(n.dataDir, "agent", "images")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := images.BuildDemo(ctx, imgDir); err != nil {
		t.Fatalf("building the demo image: %v", err)
	}
	n.cmd = exec.Command("nsenter", append([]string{"--net=/run/netns/" + n.ns, harness.Binary(t), "server",
		"--data-dir", n.dataDir, "--node-ip", "10.99.0.1", "--node-name", "node-1"}, extra...)...)
	stdout, _ := n.cmd.StdoutPipe()
	logf, _ := os.Create(filepath.Join(n.dataDir, "server.log"))
	n.cmd.Stderr = logf
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Skiff is ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("server not ready; log:\n%s", n.log())
	}
	n.eventually("node Ready", 60*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "nodes", "--no-headers")
		return strings.Contains(out, "node-1   Ready"), out
	})
	return n
}

func (n *node) log() string {
	b, _ := os.ReadFile(filepath.Join(n.dataDir, "server.log"))
	return string(b)
}

// kubectl runs the built-in kubectl inside the node's namespace.
func (n *node) kubectl(args ...string) (string, error) {
	return kubectlIn(n.t, n.ns, n.dataDir, args...)
}

func (n *node) mustKubectl(args ...string) string {
	n.t.Helper()
	return mustKubectlIn(n.t, n.ns, n.dataDir, args...)
}

// kubectlIn runs the built-in kubectl inside network namespace ns with the admin
// kubeconfig of the server whose data directory is dataDir.
func kubectlIn(t testing.TB, ns, dataDir string, args ...string) (string, error) {
	full := append([]string{"--net=/run/netns/" + ns, harness.Binary(t), "kubectl", "--kubeconfig", filepath.Join(dataDir, "kubeconfig.yaml")}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	return string(out), err
}

func mustKubectlIn(t testing.TB, ns, dataDir string, args ...string) string {
	t.Helper()
	out, err := kubectlIn(t, ns, dataDir, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// inNS runs a command inside the node's namespace.
func (n *node) inNS(args ...string) (string, error) { return inNetns(n.ns, args...) }

// inNetns runs a command inside the network namespace ns.
func inNetns(ns string, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=/run/netns/" + ns}, args...)...).CombinedOutput()
	return string(out), err
}

// poll calls cond every 250ms until it holds (true) or d passes (false, with
// cond's last description of the state).
func poll(d time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		ok, s := cond()
		if ok {
			return true, s
		}
		last = s
		time.Sleep(250 * time.Millisecond)
	}
	return false, last
}

func (n *node) eventually(what string, d time.Duration, cond func() (bool, string)) {
	n.t.Helper()
	ok, last := poll(d, cond)
	if ok {
		return
	}
	n.t.Fatalf("%s: not true after %v; last:\n%s\nserver log tail:\n%s", what, d, last, tail(n.log(), 30))
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// cleanup deletes the pods (the agent stops them), stops the server, and
// removes whatever is left: processes, mounts, cgroups, the namespace.
func (n *node) cleanup() {
	if n.cmd != nil && n.cmd.Process != nil {
		// Controllers first, or they re-create the pods; then wait until the agent
		// has removed every pod (and with it the sandbox's network namespace).
		start := time.Now()
		deleteWorkloads(n.kubectl)
		n.t.Logf("cleanup: pods gone after %v", time.Since(start))
		_ = n.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = n.cmd.Process.Kill()
			<-done
		}
	}
	purgeDataDir(n.dataDir)
	_ = exec.Command("ip", "netns", "del", n.ns).Run()
}

// deleteWorkloads deletes the controllers first (or they re-create the pods),
// then the pods, and waits until the agents have removed them all (and with
// them the sandboxes' network namespaces).
func deleteWorkloads(kubectl func(...string) (string, error)) {
	_, _ = kubectl("delete", "rc,deployments,replicasets,daemonsets,statefulsets,cronjobs,jobs,svc", "--all", "--all-namespaces", "--wait=true", "--timeout=60s")
	_, _ = kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=1", "--timeout=60s")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := kubectl("get", "pods", "-A", "--no-headers")
		if err == nil && (strings.TrimSpace(out) == "" || strings.Contains(out, "No resources found")) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// purgeDataDir stops anything a run left under a data dir (a crashed run
// leaves shims) and unmounts what is mounted below it.
func purgeDataDir(dir string) {
	_ = exec.Command("pkill", "-9", "-f", dir).Run()
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return
	}
	var targets []string
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir) {
			targets = append(targets, f[1])
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		_ = exec.Command("umount", "-l", targets[i]).Run()
	}
}

// TestSeedPodOnARealNode: the seed's kubia-manual pod on a real node: Running
// with an IP, answering on it, and reachable through logs, exec and
// port-forward via the API server.
func TestSeedPodOnARealNode(t *testing.T) {
	requireRoot(t)
	n := startNode(t)
	n.mustKubectl("create", "-f", "../integration/testdata/kubia-manual.yaml")
	n.eventually("kubia-manual Running", 60*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "pod", "kubia-manual", "--no-headers")
		return strings.Contains(out, "1/1") && strings.Contains(out, "Running"), out
	})
	ip := strings.TrimSpace(n.mustKubectl("get", "pod", "kubia-manual", "-o", "jsonpath={.status.podIP}"))
	if !strings.HasPrefix(ip, "10.42.") {
		t.Fatalf("pod IP %q not in the cluster CIDR", ip)
	}
	if out, err := n.inNS("curl", "-s", "--max-time", "5", ip+":8080"); err != nil || !strings.Contains(out, "You've hit kubia-manual") {
		t.Fatalf("curl POD_IP:8080 = %q, %v", out, err)
	}
	n.eventually("logs show the request", 10*time.Second, func() (bool, string) {
		out, _ := n.kubectl("logs", "kubia-manual")
		return strings.Contains(out, "Kubia server starting") && strings.Contains(out, "Received request"), out
	})
	if out := n.mustKubectl("exec", "kubia-manual", "--", "/kubia", "hostname"); strings.TrimSpace(out) != "kubia-manual" {
		t.Fatalf("exec hostname = %q", out)
	}
	if out, err := n.kubectl("exec", "kubia-manual", "--", "/kubia", "cat", "/nonexistent"); err == nil {
		t.Fatalf("exec of a failing command should exit non-zero: %s", out)
	}

	pf := exec.Command("nsenter", "--net=/run/netns/"+n.ns, harness.Binary(t), "kubectl", "--kubeconfig",
		filepath.Join(n.dataDir, "kubeconfig.yaml"), "port-forward", "kubia-manual", "8888:8080")
	pfOut, _ := pf.StdoutPipe()
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	sc := bufio.NewScanner(pfOut)
	if !sc.Scan() || !strings.Contains(sc.Text(), "Forwarding from 127.0.0.1:8888 -> 8080") {
		t.Fatalf("port-forward did not start: %q", sc.Text())
	}
	if out, err := n.inNS("curl", "-s", "--max-time", "5", "localhost:8888"); err != nil || !strings.Contains(out, "You've hit kubia-manual") {
		t.Fatalf("curl through port-forward = %q, %v", out, err)
	}
}

// TestSeedServiceOnARealNode: the seed's RC exposed as a LoadBalancer answers
// `curl EXTERNAL-IP:8080` from the node, and after scaling to 3 the requests
// reach every pod.
func TestSeedServiceOnARealNode(t *testing.T) {
	requireRoot(t)
	n := startNode(t)
	mustContainOut := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("want %q in:\n%s", w, out)
			}
		}
	}
	mustContainOut(n.mustKubectl("run", "kubia", "--image=luksa/kubia", "--port=8080", "--generator=run/v1"), "replicationcontroller/kubia created")
	mustContainOut(n.mustKubectl("expose", "rc", "kubia", "--type=LoadBalancer", "--name", "kubia-http"), "service/kubia-http exposed")
	var externalIP string
	n.eventually("EXTERNAL-IP assigned", 30*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "svc", "kubia-http", "--no-headers")
		f := strings.Fields(out)
		if len(f) > 3 && f[3] != "<pending>" {
			externalIP = f[3]
			return true, out
		}
		return false, out
	})
	if externalIP != "10.99.0.1" {
		t.Fatalf("EXTERNAL-IP = %q, want the node's address 10.99.0.1", externalIP)
	}
	// `skiff service` prints where it answers, like `minikube service --url`.
	url, err := exec.Command("nsenter", "--net=/run/netns/"+n.ns, harness.Binary(t), "service", "kubia-http",
		"--kubeconfig", filepath.Join(n.dataDir, "kubeconfig.yaml")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(url)) != "http://"+externalIP+":8080" {
		t.Fatalf("skiff service kubia-http = %q, %v", url, err)
	}
	curl := func() (string, error) { return n.inNS("curl", "-s", "--max-time", "3", externalIP+":8080") }
	n.eventually("curl EXTERNAL-IP:8080 answers", 60*time.Second, func() (bool, string) {
		out, err := curl()
		return err == nil && strings.HasPrefix(out, "You've hit kubia-"), fmt.Sprint(out, err)
	})

	n.mustKubectl("scale", "rc", "kubia", "--replicas=3")
	n.eventually("3 pods Running and in the endpoints", 90*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "endpoints", "kubia-http", "-o", "jsonpath={.subsets[0].addresses[*].ip}")
		return len(strings.Fields(out)) == 3, out
	})
	seen := map[string]int{}
	n.eventually("60 requests reach all 3 pods", 60*time.Second, func() (bool, string) {
		for i := 0; i < 60; i++ {
			out, err := curl()
			if err != nil {
				return false, fmt.Sprint("request failed: ", out, err)
			}
			seen[strings.TrimSpace(out)]++
		}
		return len(seen) == 3, fmt.Sprint(seen)
	})
	if out, err := n.inNS("curl", "-s", "--max-time", "3", "10.43.0.99:80"); err == nil {
		t.Fatalf("an unused ClusterIP answered: %s", out)
	}

	// Scale down: once the endpoints have settled, no request fails and every
	// one reaches the pod that is left.
	n.mustKubectl("scale", "rc", "kubia", "--replicas=1")
	var left string
	n.eventually("1 pod left in the endpoints", 60*time.Second, func() (bool, string) {
		out, _ := n.kubectl("get", "endpoints", "kubia-http", "-o", "jsonpath={.subsets[*].addresses[*].targetRef.name}")
		f := strings.Fields(out)
		if len(f) == 1 {
			left = f[0]
		}
		return len(f) == 1, out
	})
	n.eventually("the proxy sends every request to "+left, 30*time.Second, func() (bool, string) {
		for i := 0; i < 5; i++ {
			if out, err := curl(); err != nil || strings.TrimSpace(out) != "You've hit "+left {
				return false, fmt.Sprint(out, err)
			}
		}
		return true, ""
	})
	for i := 0; i < 60; i++ {
		out, err := curl()
		if err != nil || strings.TrimSpace(out) != "You've hit "+left {
			t.Fatalf("request %d after scaling down: %q, %v (want You've hit %s)", i, out, err, left)
		}
	}
}
