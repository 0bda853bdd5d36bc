package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHAPartitionAndDiskFull: three servers on embedded etcd. Node 3 is cut
// off from the others: nodes 1 and 2 go on taking writes, and node 3 refuses
// both writes and reads of the latest state rather than serve its stale copy
// as fresh. It comes back and catches up. Then node 2's etcd member runs out
// of disk: nodes 1 and 3 go on.
func TestHAPartitionAndDiskFull(t *testing.T) {
	requireRoot(t)
	l := newLab(t, "host-gw", 1, 1, 1)
	// Node 2's member keeps its data on a small disk of its own.
	etcdDisk := filepath.Join(l.nodes[1].dataDir, "server", "db", "etcd")
	if err := os.MkdirAll(etcdDisk, 0o700); err != nil {
		t.Fatal(err)
	}
	sh(t, "mount", "-t", "tmpfs", "-o", "size=96m", "skiff-etcd-disk", etcdDisk)
	t.Cleanup(func() { _ = execQuiet("umount", "-l", etcdDisk) })

	l.server("--cluster-init", "--disable-agent")
	serverToken, err := os.ReadFile(filepath.Join(l.nodes[0].dataDir, "server", "server-token"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 3; i++ {
		n := l.nodes[i-1]
		n.start([]string{"server", "--data-dir", n.dataDir, "--node-ip", n.ip, "--node-name", n.name,
			"--server", "https://" + l.nodes[0].ip + ":6443", "--token", strings.TrimSpace(string(serverToken)),
			"--disable-agent", "--network-backend", l.backend}, "Skiff is ready")
	}
	k := func(i int, args ...string) (string, error) {
		return kubectlIn(t, l.nodes[i-1].ns, l.nodes[i-1].dataDir, append([]string{"--request-timeout=8s"}, args...)...)
	}
	if out, err := k(3, "create", "configmap", "before"); err != nil {
		t.Fatalf("a write through node 3: %v\n%s", err, out)
	}

	// Node 3 loses its link.
	sh(t, "ip", "-n", l.nodes[2].ns, "link", "set", "eth0", "down")
	l.eventually("node 1 taking writes without node 3", 30*time.Second, func() (bool, string) {
		out, err := k(1, "create", "configmap", "during")
		return err == nil || strings.Contains(out, "already exists"), out
	})
	if out, err := k(3, "get", "configmap", "during"); err == nil {
		t.Errorf("node 3, cut off, answered a read of the latest state:\n%s", out)
	} else if !strings.Contains(out, "does not answer") && !strings.Contains(out, "ServiceUnavailable") && !strings.Contains(out, "Timeout") {
		t.Logf("node 3's refusal: %s", out)
	}
	if out, err := k(3, "create", "configmap", "on-the-island"); err == nil {
		t.Errorf("node 3, cut off, took a write:\n%s", out)
	}
	// A read that asks for no particular freshness (resourceVersion=0) is
	// served from its cache, as upstream's watch cache serves it.
	if out, err := k(3, "get", "--raw", "/api/v1/namespaces/default/configmaps/before?resourceVersion=0"); err != nil {
		t.Errorf("node 3, cut off, refused a read at resourceVersion=0: %v\n%s", err, out)
	}

	// It comes back and catches up.
	sh(t, "ip", "-n", l.nodes[2].ns, "link", "set", "eth0", "up")
	sh(t, "ip", "-n", l.nodes[2].ns, "route", "replace", "10.99.0.0/16", "via", "10.99.1.254")
	l.eventually("node 3 serving what was written while it was cut off", 60*time.Second, func() (bool, string) {
		out, err := k(3, "get", "configmap", "during")
		return err == nil, out
	})

	// Node 2's member runs out of disk.
	_ = execQuiet("dd", "if=/dev/zero", "of="+filepath.Join(etcdDisk, "filler"), "bs=1M", "count=200")
	for i := 0; i < 20; i++ {
		_, _ = k(1, "create", "configmap", "fill-"+strings.Repeat("x", i%5+1)+string(rune('a'+i)), "--from-literal=v="+strings.Repeat("y", 4096))
	}
	l.eventually("node 2's member failing on its full disk", 60*time.Second, func() (bool, string) {
		log := l.nodes[1].log()
		return strings.Contains(log, "no space left on device"), tail(log, 10)
	})
	l.eventually("nodes 1 and 3 taking writes with node 2's disk full", 60*time.Second, func() (bool, string) {
		out1, err1 := k(1, "create", "configmap", "disk-full-1")
		out3, err3 := k(3, "create", "configmap", "disk-full-3")
		ok1 := err1 == nil || strings.Contains(out1, "already exists")
		ok3 := err3 == nil || strings.Contains(out3, "already exists")
		return ok1 && ok3, out1 + out3
	})
}

// execQuiet runs a command on the machine, ignoring its output.
func execQuiet(name string, args ...string) error { return exec.Command(name, args...).Run() }
