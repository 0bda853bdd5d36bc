package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/images"
	"github.com/skiffhq/skiff/test/harness"
)

// serverProcess is a `skiff server` whose output the test reads.
type serverProcess struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func (s *serverProcess) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// startServer starts `skiff server` on dataDir inside network namespace ns
// and waits until it is ready.
func startServer(t *testing.T, ns, dataDir string) *serverProcess {
	t.Helper()
	s := &serverProcess{done: make(chan struct{})}
	s.cmd = exec.Command("nsenter", "--net=/run/netns/"+ns, harness.Binary(t), "server",
		"--data-dir", dataDir, "--node-ip", "10.99.0.1", "--node-name", "node-1")
	stdout, _ := s.cmd.StdoutPipe()
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(dataDir), "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "Skiff is ready") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("server not ready; output:\n%s\nlog:\n%s", s.output(), tail(string(b), 30))
	}
	return s
}

// stop sends the server a Ctrl-C and returns all it printed.
func (s *serverProcess) stop(t *testing.T) string {
	t.Helper()
	_ = s.cmd.Process.Signal(os.Interrupt)
	exited := make(chan error, 1)
	go func() { <-s.done; exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the server exited with %v after Ctrl-C", err)
		}
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Fatalf("the server did not stop within 60s of Ctrl-C; output:\n%s", s.output())
	}
	return s.output()
}

// skiffIn runs the skiff binary inside network namespace ns.
func skiffIn(t *testing.T, ns string, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=/run/netns/" + ns, harness.Binary(t)}, args...)...).CombinedOutput()
	return string(out), err
}

// shimsOf counts the containerd shims serving the containerd of dataDir.
func shimsOf(dataDir string) int {
	socket := filepath.Join(dataDir, "agent", "containerd", "containerd.sock")
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.HasPrefix(filepath.Base(strings.SplitN(string(b), "\x00", 2)[0]), "containerd-shim") &&
			strings.Contains(string(b), "\x00"+socket+"\x00") {
			n++
		}
	}
	return n
}

const hostPortPod = `apiVersion: v1
kind: Pod
metadata:
  name: kubia-hp
spec:
  containers:
  - image: luksa/kubia
    name: kubia
    ports:
    - containerPort: 8080
      hostPort: 18080
`

// TestKillallAndUninstall: Ctrl-C leaves the pods running and says so;
// `skiff killall` refuses while the server runs, then stops the pods, shims
// and their network and mounts, and keeps the data: the next start runs the
// pods again. A second killall finds nothing; `skiff uninstall` removes the
// data directory, and a second one finds nothing either.
func TestKillallAndUninstall(t *testing.T) {
	requireRoot(t)
	ns := fmt.Sprintf("skiff-ka-%d", os.Getpid()%100000)
	sh(t, "ip", "netns", "add", ns)
	base := t.TempDir()
	dataDir := filepath.Join(base, "data")
	var srv *serverProcess
	t.Cleanup(func() {
		if srv != nil && srv.cmd.ProcessState == nil {
			srv.stop(t)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(base, "server.log"))
			t.Logf("server log tail:\n%s", tail(string(b), 40))
		}
		_, _ = skiffIn(t, ns, "uninstall", "--data-dir", dataDir)
		purgeDataDir(dataDir)
		_ = exec.Command("ip", "netns", "del", ns).Run()
	})
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	sh(t, "ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	sh(t, "ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", "eth0")
	sh(t, "ip", "-n", ns, "link", "set", "eth0", "up")
	sh(t, "ip", "-n", ns, "link", "set", "eth1", "up")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := images.BuildDemo(ctx, filepath.Join(dataDir, "agent", "images")); err != nil {
		t.Fatalf("building the demo image: %v", err)
	}
	kubectl := func(args ...string) (string, error) { return kubectlIn(t, ns, dataDir, args...) }
	eventually := func(what string, d time.Duration, cond func() (bool, string)) {
		t.Helper()
		if ok, last := poll(d, cond); !ok {
			t.Fatalf("%s: not true after %v; last:\n%s", what, d, last)
		}
	}
	running := func() {
		t.Helper()
		eventually("both pods Running", 90*time.Second, func() (bool, string) {
			out, _ := kubectl("get", "pods", "--no-headers")
			n := 0
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 2 && f[1] == "1/1" && f[2] == "Running" {
					n++
				}
			}
			return n == 2, out
		})
	}

	srv = startServer(t, ns, dataDir)
	mustKubectlIn(t, ns, dataDir, "create", "-f", "../integration/testdata/kubia-manual.yaml")
	podFile := filepath.Join(base, "kubia-hp.yaml")
	if err := os.WriteFile(podFile, []byte(hostPortPod), 0o644); err != nil {
		t.Fatal(err)
	}
	mustKubectlIn(t, ns, dataDir, "create", "-f", podFile)
	running()

	out, err := skiffIn(t, ns, "killall", "--data-dir", dataDir)
	if want := fmt.Sprintf("server (pid %d) is still running on %s", srv.cmd.Process.Pid, dataDir); err == nil || !strings.Contains(out, want) {
		t.Fatalf("killall while the server runs: %v:\n%s\nwant it to refuse, saying %q", err, out, want)
	}

	out = srv.stop(t)
	for _, want := range []string{
		"Skiff stopped. Still running on purpose, so that the next start adopts the pods instead of restarting them:\n",
		"  2 pod(s) (default/kubia-hp, default/kubia-manual): ",
		"under 2 containerd shim(s), in 2 network namespace(s)\n",
		"  the node's network: bridge skiff0, ",
		"nftables table ip skiff-proxy\n",
		"killall --data-dir " + dataDir + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the server's output on Ctrl-C lacks %q:\n%s", want, out)
		}
	}
	t.Logf("the server's output after Ctrl-C:\n%s", tail(out, 8))
	if strings.Contains(out, "containerd (pid") {
		t.Errorf("containerd still runs after Ctrl-C")
	}
	if n := shimsOf(dataDir); n != 2 {
		t.Errorf("%d shims run after Ctrl-C, want the pods' 2", n)
	}

	out, err = skiffIn(t, ns, "killall", "--data-dir", dataDir)
	t.Logf("skiff killall:\n%s", out)
	if err != nil {
		t.Fatalf("killall: %v\n%s", err, out)
	}
	for _, want := range []string{
		"killed 2 containerd shim(s) and ",
		" of 2 pod(s): default/kubia-hp, default/kubia-manual\n",
		"removed /var/lib/cni/results/skiff-",
		"removed /var/lib/cni/results/cni-loopback-",
		"deleted iptables chain nat CNI-DN-",
		"deleted bridge skiff0\n",
		"deleted nftables table ip skiff-proxy\n",
		"released pod address(es) ",
		"unmounted " + dataDir + "/agent/containerd/",
		"is stopped; its data is kept",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("killall did not say %q", want)
		}
	}
	if strings.Count(out, "/run/netns/cni-") != 2 {
		t.Errorf("killall removed %d pod network namespaces, want 2", strings.Count(out, "removed network namespace"))
	}
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "removed network namespace "); ok {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s is still there", p)
			}
		}
	}
	if n := shimsOf(dataDir); n != 0 {
		t.Errorf("%d shims run after killall", n)
	}
	if got, err := inNetns(ns, "ip", "-o", "link", "show", "skiff0"); err == nil {
		t.Errorf("the bridge is still there: %s", got)
	}
	if got, _ := inNetns(ns, "nft", "list", "tables"); strings.Contains(got, "skiff-proxy") {
		t.Errorf("the proxy's table is still there: %s", got)
	}
	if got, _ := inNetns(ns, "iptables", "-t", "nat", "-S"); strings.Contains(got, "CNI-DN-") {
		t.Errorf("the hostPort rules are still there:\n%s", got)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), dataDir) {
		t.Errorf("still mounted under %s", dataDir)
	}

	out, err = skiffIn(t, ns, "killall", "--data-dir", dataDir)
	if want := "Nothing of the Skiff node in " + dataDir + " is running or left behind.\n"; err != nil || out != want {
		t.Errorf("second killall: %v:\n%s\nwant:\n%s", err, out, want)
	}

	// The data was kept: the next start runs the same pods again.
	srv = startServer(t, ns, dataDir)
	eventually("kubia-manual answers again", 120*time.Second, func() (bool, string) {
		pods, _ := kubectl("get", "pods", "-o", "wide")
		ip, _ := kubectl("get", "pod", "kubia-manual", "-o", "jsonpath={.status.podIP}")
		out, err := inNetns(ns, "curl", "-s", "--max-time", "3", strings.TrimSpace(ip)+":8080")
		return err == nil && strings.Contains(out, "You've hit kubia-manual"), fmt.Sprint(pods, out, err)
	})
	running()
	srv.stop(t)

	out, err = skiffIn(t, ns, "uninstall", "--data-dir", dataDir)
	t.Logf("skiff uninstall:\n%s", out)
	if err != nil || !strings.Contains(out, "removed "+dataDir+" (the cluster's data") || !strings.Contains(out, "is uninstalled.\n") {
		t.Errorf("uninstall: %v:\n%s", err, out)
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Errorf("uninstall left %s", dataDir)
	}
	out, err = skiffIn(t, ns, "uninstall", "--data-dir", dataDir)
	if !strings.HasPrefix(out, "Nothing to uninstall: "+dataDir+" does not exist") || err != nil {
		t.Errorf("second uninstall: %v:\n%s", err, out)
	}
}
