package cleanup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"k8s.io/client-go/tools/clientcmd"
)

// TestKillallRefusesWhileANodeRuns: a node holding the data directory's lock
// (as `skiff server` does) stops killall and uninstall, which name it; a
// clean-up holding it stops a node from starting.
func TestKillallRefusesWhileANodeRuns(t *testing.T) {
	dir := t.TempDir()
	node := helper("lock", "skiff", "server", dir)
	out, _ := node.StdoutPipe()
	startHelper(t, node)
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("the node helper did not take the lock: %q", line)
	}
	for name, fn := range map[string]func(context.Context, Options) error{"killall": Killall, "uninstall": Uninstall} {
		var buf bytes.Buffer
		err := fn(context.Background(), Options{DataDir: dir, Out: &buf, CgroupRoot: "/skiff-test-none"})
		want := fmt.Sprintf("skiff server (pid %d) is still running on %s", node.Process.Pid, dir)
		if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s while a node runs: %v; want %q", name, err, want)
		}
		if buf.Len() > 0 {
			t.Errorf("%s while a node runs printed %q", name, buf.String())
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("uninstall removed the data directory of a running node: %v", err)
	}
	_ = node.Process.Kill()
	_ = node.Wait()

	release, err := lockExclusive(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "skiff killall") {
		t.Errorf("a node starting during a clean-up: %v; want ErrRunning naming skiff killall", err)
	}
	release()
	releaseNode, err := Lock(dir)
	if err != nil {
		t.Fatalf("a node starting after the clean-up: %v", err)
	}
	releaseNode()
}

// TestUninstall: the data directory and the kubeconfig written outside it go;
// a second run finds nothing; a directory that is not a data directory, and a
// kubeconfig that is no longer this cluster's, are kept.
func TestUninstall(t *testing.T) {
	base := t.TempDir()
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	newDataDir := func(name string) string {
		dir := filepath.Join(base, name)
		for path, content := range map[string][]byte{
			// No agent/: with one, killall would look for the node's
			// network in this test's own namespace.
			"server/tls/ca.crt":  ca,
			"server/db/state.db": []byte("x"),
			"kubeconfig.yaml":    []byte("x"),
		} {
			p := filepath.Join(dir, path)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	writeKubeconfig := func(path string, caData []byte) {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["skiff"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443", CertificateAuthorityData: caData}
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
	}
	uninstall := func(dir string) (string, error) {
		var buf bytes.Buffer
		err := Uninstall(context.Background(), Options{DataDir: dir, Out: &buf, CgroupRoot: "/skiff-test-none"})
		return buf.String(), err
	}

	dir := newDataDir("skiff")
	kubeconfig := filepath.Join(base, "admin.yaml")
	writeKubeconfig(kubeconfig, ca)
	if err := RecordKubeconfig(dir, kubeconfig); err != nil {
		t.Fatal(err)
	}
	out, err := uninstall(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("removed %s (the kubeconfig --write-kubeconfig wrote)\nremoved %s (the cluster's data, certificates and kubeconfig.yaml)\nThe Skiff node in %s is uninstalled.\n", kubeconfig, dir, dir)
	if out != want {
		t.Errorf("uninstall printed:\n%s\nwant:\n%s", out, want)
	}
	for _, p := range []string{dir, kubeconfig} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after uninstall (%v)", p, err)
		}
	}
	out, err = uninstall(dir)
	if want := fmt.Sprintf("Nothing to uninstall: %s does not exist and nothing of its node is running.\n", dir); err != nil || out != want {
		t.Errorf("second uninstall: %q, %v; want %q", out, err, want)
	}

	// The kubeconfig was overwritten by another cluster's since.
	dir = newDataDir("skiff2")
	writeKubeconfig(kubeconfig, []byte("another CA"))
	if err := RecordKubeconfig(dir, kubeconfig); err != nil {
		t.Fatal(err)
	}
	out, err = uninstall(dir)
	if err != nil || !strings.Contains(out, "kept "+kubeconfig+": it is no longer this cluster's kubeconfig") {
		t.Errorf("uninstall with another cluster's kubeconfig: %q, %v", out, err)
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Errorf("another cluster's kubeconfig was removed: %v", err)
	}

	// A kubeconfig inside the data directory needs no record.
	dir = newDataDir("skiff3")
	if err := RecordKubeconfig(dir, filepath.Join(dir, "kubeconfig.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, KubeconfigRecord)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a kubeconfig inside the data directory was recorded (%v)", err)
	}

	// Not a data directory: a typo must not remove someone's home.
	home := filepath.Join(base, "home")
	if err := os.MkdirAll(filepath.Join(home, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = uninstall(home)
	if err == nil || !strings.Contains(err.Error(), "does not look like a Skiff data directory") {
		t.Errorf("uninstall of a directory that is not a data directory: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(home, "notes.txt")); err != nil {
		t.Errorf("uninstall removed files of a directory that is not a data directory: %v", err)
	}
	if _, err := uninstall("/"); err == nil {
		t.Error("uninstall of / was not refused")
	}
}

// TestStopContainerd: only the containerd of the data directory stops.
func TestStopContainerd(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	ours := startHelper(t, helper("sleep", "/usr/bin/containerd", "--config", filepath.Join(dir, "agent", "containerd", "config.toml")))
	theirs := startHelper(t, helper("sleep", "/usr/bin/containerd", "--config", filepath.Join(other, "agent", "containerd", "config.toml")))
	stopped, err := StopContainerd(dir, time.Second)
	if err != nil || len(stopped) != 1 || stopped[0] != ours.Process.Pid {
		t.Errorf("StopContainerd = %v, %v; want [%d]", stopped, err, ours.Process.Pid)
	}
	if alive(ours.Process.Pid) || !alive(theirs.Process.Pid) {
		t.Errorf("after StopContainerd: ours alive %v, theirs alive %v", alive(ours.Process.Pid), alive(theirs.Process.Pid))
	}
	if stopped, err := StopContainerd(dir, time.Second); err != nil || len(stopped) != 0 {
		t.Errorf("second StopContainerd = %v, %v; want nothing", stopped, err)
	}
}

// TestLockLeavesNoTrace: a node that stops having written nothing else (a
// refused join) leaves neither the lock file nor a directory it made; one
// that wrote state keeps its lock file.
func TestLockLeavesNoTrace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh")
	release, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a node that wrote nothing left %s behind: %v", dir, err)
	}
	release, err = Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Errorf("a node that wrote state lost its lock file: %v", err)
	}
}
