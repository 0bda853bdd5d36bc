package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/images"
	"github.com/skiffhq/skiff/test/harness"
)

// lab is a small cluster of hosts on one machine: one network namespace per
// node, each with one veth into a "switch" namespace that holds a bridge per
// subnet (and routes between them, as a router would). Nothing has a route
// out of the machine. Node 1 runs `skiff server`, the others `skiff agent`.
type lab struct {
	t       testing.TB
	prefix  string
	switchN string
	backend string
	nodes   []*labNode
	token   string
}

type labNode struct {
	lab              *lab
	name, ns, ip     string
	subnet           int // the third octet of 10.99.S.0/24
	dataDir, logFile string
	cmd              *exec.Cmd
}

// newLab wires len(subnets) node namespaces; node i lives in 10.99.subnets[i].0/24.
func newLab(t testing.TB, backend string, subnets ...int) *lab {
	t.Helper()
	l := &lab{t: t, prefix: fmt.Sprintf("sk%d", os.Getpid()%100000), backend: backend}
	l.switchN = l.prefix + "-sw"
	sh(t, "ip", "netns", "add", l.switchN)
	t.Cleanup(l.cleanup)
	sh(t, "ip", "-n", l.switchN, "link", "set", "lo", "up")
	writeSysctl(t, l.switchN, "net/ipv4/ip_forward", "1")
	bridges := map[int]bool{}
	for i, s := range subnets {
		br := fmt.Sprintf("br%d", s)
		if !bridges[s] {
			bridges[s] = true
			sh(t, "ip", "-n", l.switchN, "link", "add", br, "type", "bridge")
			sh(t, "ip", "-n", l.switchN, "addr", "add", fmt.Sprintf("10.99.%d.254/24", s), "dev", br)
			sh(t, "ip", "-n", l.switchN, "link", "set", br, "up")
		}
		n := &labNode{lab: l, name: fmt.Sprintf("node-%d", i+1), ns: fmt.Sprintf("%s-n%d", l.prefix, i+1),
			ip: fmt.Sprintf("10.99.%d.%d", s, i+1), subnet: s}
		// Removed by l.cleanup once every process is gone (a t.TempDir would
		// be removed first, under the running node).
		dir, err := os.MkdirTemp("", "skiff-lab-")
		if err != nil {
			t.Fatal(err)
		}
		n.dataDir = dir
		n.logFile = filepath.Join(n.dataDir, "skiff.log")
		sh(t, "ip", "netns", "add", n.ns)
		l.nodes = append(l.nodes, n)
		peer := fmt.Sprintf("p%d", i+1)
		sh(t, "ip", "-n", n.ns, "link", "set", "lo", "up")
		sh(t, "ip", "-n", n.ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", l.switchN)
		sh(t, "ip", "-n", l.switchN, "link", "set", peer, "master", br, "up")
		sh(t, "ip", "-n", n.ns, "addr", "add", n.ip+"/24", "dev", "eth0")
		sh(t, "ip", "-n", n.ns, "link", "set", "eth0", "up")
		sh(t, "ip", "-n", n.ns, "route", "add", "10.99.0.0/16", "via", fmt.Sprintf("10.99.%d.254", s))
	}
	return l
}

func writeSysctl(t testing.TB, ns, key, value string) {
	t.Helper()
	sh(t, "ip", "netns", "exec", ns, "sh", "-c", fmt.Sprintf("echo %s > /proc/sys/%s", value, key))
}

// server starts `skiff server` on node 1 with short node-loss periods, with
// the demo image in its air-gap folder (the other nodes get it through the
// registry mirror).
func (l *lab) server(extra ...string) {
	t := l.t
	t.Helper()
	n := l.nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := images.BuildDemo(ctx, filepath.Join(n.dataDir, "agent", "images")); err != nil {
		t.Fatalf("building the demo image: %v", err)
	}
	args := append([]string{"server", "--data-dir", n.dataDir, "--node-ip", n.ip, "--node-name", n.name,
		"--network-backend", l.backend, "--node-monitor-grace-period", "8s",
		"--default-not-ready-toleration-seconds", "2", "--default-unreachable-toleration-seconds", "2"}, extra...)
	n.start(args, "Skiff is ready")
	b, err := os.ReadFile(filepath.Join(n.dataDir, "server", "token"))
	if err != nil {
		t.Fatal(err)
	}
	l.token = strings.TrimSpace(string(b))
}

// agent starts `skiff agent` on node i (1-based) and joins it to node 1.
func (l *lab) agent(i int, extra ...string) {
	n := l.nodes[i-1]
	// The token travels as a file, as an admin would copy it to the host.
	tokenFile := filepath.Join(n.dataDir, "join-token")
	if err := os.WriteFile(tokenFile, []byte(l.token+"\n"), 0o600); err != nil {
		l.t.Fatal(err)
	}
	n.start(append([]string{"agent", "--server", "https://" + l.nodes[0].ip + ":6443", "--token-file", tokenFile,
		"--data-dir", n.dataDir, "--node-ip", n.ip, "--node-name", n.name, "--network-backend", l.backend}, extra...), "Joined ")
}

// start runs skiff inside the node's namespace and waits for its ready line.
func (n *labNode) start(args []string, readyLine string) {
	t := n.lab.t
	t.Helper()
	n.cmd = exec.Command("nsenter", append([]string{"--net=/run/netns/" + n.ns, harness.Binary(t)}, args...)...)
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, _ := n.cmd.StdoutPipe()
	logf, err := os.OpenFile(n.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stderr = logf
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !once && strings.HasPrefix(sc.Text(), readyLine) {
				once = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		t.Fatalf("%s: no %q line after 90s; log:\n%s", n.name, readyLine, tail(n.log(), 40))
	}
}

func (n *labNode) log() string {
	b, _ := os.ReadFile(n.logFile)
	return string(b)
}

// kill stops the node as a power cut would: skiff, its containerd and the
// shims, all at once.
func (n *labNode) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		_ = n.cmd.Wait()
	}
	_ = exec.Command("pkill", "-9", "-f", n.dataDir).Run()
	n.cmd = nil
}

// stop asks skiff to shut down and waits for it.
func (n *labNode) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	n.cmd = nil
}

// kubectl runs the built-in kubectl on node 1 with the admin kubeconfig.
func (l *lab) kubectl(args ...string) (string, error) {
	return kubectlIn(l.t, l.nodes[0].ns, l.nodes[0].dataDir, args...)
}

func (l *lab) mustKubectl(args ...string) string {
	l.t.Helper()
	return mustKubectlIn(l.t, l.nodes[0].ns, l.nodes[0].dataDir, args...)
}

// in runs a command in node i's namespace.
func (l *lab) in(i int, args ...string) (string, error) { return inNetns(l.nodes[i-1].ns, args...) }

func (l *lab) eventually(what string, d time.Duration, cond func() (bool, string)) {
	l.t.Helper()
	ok, last := poll(d, cond)
	if ok {
		return
	}
	var logs strings.Builder
	for _, n := range l.nodes {
		fmt.Fprintf(&logs, "--- %s log tail:\n%s\n", n.name, tail(n.log(), 25))
	}
	l.t.Fatalf("%s: not true after %v; last:\n%s\n%s", what, d, last, logs.String())
}

// cleanup removes the workloads while the nodes still run (so each agent
// removes its pods), then stops everything and removes the namespaces.
func (l *lab) cleanup() {
	if len(l.nodes) > 0 && l.nodes[0].cmd != nil {
		deleteWorkloads(l.kubectl)
	}
	for i := len(l.nodes) - 1; i >= 0; i-- {
		l.nodes[i].stop()
	}
	for _, n := range l.nodes {
		purgeDataDir(n.dataDir)
		_ = exec.Command("ip", "netns", "del", n.ns).Run()
		if l.t.Failed() {
			// Keep the log: the data dir goes.
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("skiff-lab-%s-%s.log", l.prefix, n.name))
			_ = os.WriteFile(keep, []byte(n.log()), 0o644)
			l.t.Logf("%s's log is in %s", n.name, keep)
		}
		_ = os.RemoveAll(n.dataDir)
	}
	_ = exec.Command("ip", "netns", "del", l.switchN).Run()
}
