package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/etcdmember"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/server"
)

// TestEtcdSnapshot drives `skiff etcd-snapshot` against a real etcd member
// laid out in a data dir as `skiff server --cluster-init` lays it out: save
// and ls while it runs, restore refused while it runs, restore once it has
// stopped, and the member started again on the restored data holds what was
// written before the snapshot and not what came after.
func TestEtcdSnapshot(t *testing.T) {
	ctx := t.Context()
	dataDir := t.TempDir()
	loopback := net.IPv4(127, 0, 0, 1)
	ca, err := pki.EnsureCA(server.EtcdCADir(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := etcdmember.EnsureCerts(ca, server.EtcdCertDir(dataDir), "node-a", []net.IP{loopback})
	if err != nil {
		t.Fatal(err)
	}
	cfg := etcdmember.Config{
		DataDir: server.EtcdDataDir(dataDir), Name: "node-a", AdvertiseIP: loopback,
		ClientPort: freeLoopbackPort(t), PeerPort: freeLoopbackPort(t), Certs: certs,
		HeartbeatInterval: 20 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond, ReadyTimeout: 30 * time.Second,
	}
	port := func() string { return strconv.Itoa(cfg.ClientPort) }

	run := func(args ...string) (stdout, stderr string, err error) {
		t.Helper()
		args = append([]string{"etcd-snapshot"}, args...)
		root := newRoot(args)
		var o, e bytes.Buffer
		root.SetOut(&o)
		root.SetErr(&e)
		root.SetArgs(args)
		err = root.ExecuteContext(ctx)
		return o.String(), e.String(), err
	}

	if _, _, err := run("save", "--data-dir", dataDir, "--etcd-client-port", port()); err == nil ||
		!strings.Contains(err.Error(), "is `skiff server --cluster-init` running on this host?") {
		t.Errorf("save with no member running: %v; want it to ask whether the server runs", err)
	}

	m := startMember(t, &cfg, true)
	etcdPut(t, m, "/registry/before", "a")

	stdout, _, err := run("save", "--data-dir", dataDir, "--etcd-client-port", port(), "--name", "before")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSuffix(stdout, "\n")
	if filepath.Dir(path) != server.SnapshotDir(dataDir) || !strings.HasPrefix(filepath.Base(path), "before-") || strings.Contains(path, "\n") {
		t.Fatalf("save printed %q, want the path of before-UNIXMS in %s", stdout, server.SnapshotDir(dataDir))
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("save printed %s: %v", path, err)
	}

	stdout, _, err = run("ls", "--data-dir", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME SIZE CREATED" ||
		!strings.HasPrefix(lines[1], filepath.Base(path)+" ") || !strings.Contains(lines[1], " KiB ") {
		t.Errorf("ls printed\n%s\nwant a header and the line of %s", stdout, filepath.Base(path))
	}

	etcdPut(t, m, "/registry/after", "b")

	restore := []string{"restore", filepath.Base(path), "--data-dir", dataDir, "--node-ip", "127.0.0.1",
		"--peer-port", strconv.Itoa(cfg.PeerPort), "--server-name", "node-a"}
	if _, _, err := run(append(restore, "--etcd-client-port", port())...); err == nil || !strings.Contains(err.Error(), "stop `skiff server` on this host first") {
		t.Errorf("restore while the member runs: %v; want it to say to stop the server first", err)
	}
	otherPort := strconv.Itoa(freeLoopbackPort(t))
	if _, _, err := run(append(restore, "--etcd-client-port", otherPort)...); err == nil || !strings.Contains(err.Error(), "stop `skiff server` on this host first") {
		t.Errorf("restore while the member runs, asked about another client port: %v; want it to say to stop the server first", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "member", "wal")); err != nil {
		t.Fatalf("a refused restore touched the member's data: %v", err)
	}

	m.Stop()

	// A restore that fails, on a snapshot damaged since it was saved,
	// puts the member's data back and leaves nothing else beside it.
	stream, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stream[len(stream)/2] ^= 0xff
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := os.WriteFile(damaged, stream, 0o600); err != nil {
		t.Fatal(err)
	}
	damagedRestore := append([]string{"restore", damaged}, restore[2:]...)
	if _, _, err := run(append(damagedRestore, "--etcd-client-port", port())...); err == nil || !strings.Contains(err.Error(), "nothing changed: the member's old data is back in "+cfg.DataDir) {
		t.Errorf("restore of a damaged snapshot: %v; want it to say nothing changed", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "member", "wal")); err != nil {
		t.Errorf("after a failed restore, the member's data: %v", err)
	}
	if beside, _ := filepath.Glob(cfg.DataDir + ".*"); len(beside) != 0 {
		t.Errorf("a failed restore left %v", beside)
	}

	stdout, _, err = run(append(restore, "--etcd-client-port", port())...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Moved the member's old data aside to " + cfg.DataDir + ".old-",
		"Restored " + path + " into " + cfg.DataDir,
		" server --cluster-init --node-ip 127.0.0.1 --data-dir " + dataDir + " --server-name node-a\n",
		"--server https://127.0.0.1:" + strconv.Itoa(server.DefaultHTTPSPort) + " --token SERVER-TOKEN (this server's " + server.ServerTokenFile(dataDir) + ")",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("restore printed\n%s\nwant it to say %q", stdout, want)
		}
	}
	old, _ := filepath.Glob(cfg.DataDir + ".*")
	if len(old) != 1 || !strings.HasPrefix(old[0], cfg.DataDir+".old-") {
		t.Fatalf("beside the data dir: %v, want the old data alone", old)
	}
	if _, err := os.Stat(filepath.Join(old[0], "member", "wal")); err != nil {
		t.Errorf("the old data did not move aside whole: %v", err)
	}

	m = startMember(t, &cfg, false)
	if got := etcdGet(t, m, "/registry/before"); got != "a" {
		t.Errorf("after restore, the key written before the snapshot is %q, want a", got)
	}
	if got := etcdGet(t, m, "/registry/after"); got != "" {
		t.Errorf("after restore, the key written after the snapshot is %q, want it gone", got)
	}

	// prune keeps the newest of one name and leaves other names alone.
	var extra []string
	for range 2 {
		time.Sleep(2 * time.Millisecond) // names are to the millisecond
		stdout, _, err := run("save", "--data-dir", dataDir, "--etcd-client-port", port(), "--name", "extra")
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, strings.TrimSuffix(stdout, "\n"))
	}
	stdout, _, err = run("prune", "--data-dir", dataDir, "--name", "extra", "--snapshot-retention", "1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "deleted " + extra[0] + "\n"; stdout != want {
		t.Errorf("prune printed %q, want %q", stdout, want)
	}
	left, err := etcdmember.List(server.SnapshotDir(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].Path != extra[1] || left[1].Path != path {
		t.Errorf("after prune: %+v, want %s and %s", left, extra[1], path)
	}

	// Without --server-name the member takes this host's name, and the
	// server started on it needs no --server-name either.
	otherDataDir := t.TempDir()
	stdout, _, err = run("restore", path, "--data-dir", otherDataDir, "--node-ip", "127.0.0.1",
		"--peer-port", strconv.Itoa(freeLoopbackPort(t)), "--etcd-client-port", strconv.Itoa(freeLoopbackPort(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"a one-member etcd cluster, member " + strconv.Quote(hostName()) + " at",
		" server --cluster-init --node-ip 127.0.0.1 --data-dir " + otherDataDir + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("restore without --server-name printed\n%s\nwant it to say %q", stdout, want)
		}
	}
}

func TestEtcdSnapshotRestoreNeedsNodeIP(t *testing.T) {
	args := []string{"etcd-snapshot", "restore", "snap", "--data-dir", t.TempDir()}
	root := newRoot(args)
	root.SetArgs(args)
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "node-ip") {
		t.Errorf("restore without --node-ip: %v, want it to ask for --node-ip", err)
	}
}

// startMember starts cfg and stops it when the test ends. A new member
// whose ports another process took meanwhile gets new ones.
func startMember(t *testing.T, cfg *etcdmember.Config, fresh bool) *etcdmember.Member {
	t.Helper()
	for try := 0; ; try++ {
		m, err := etcdmember.Start(t.Context(), *cfg)
		if err == nil {
			t.Cleanup(m.Stop)
			return m
		}
		if try == 4 || !fresh || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		cfg.ClientPort, cfg.PeerPort = freeLoopbackPort(t), freeLoopbackPort(t)
	}
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func etcdPut(t *testing.T, m *etcdmember.Member, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := m.Client().Put(ctx, key, value); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// etcdGet is key's value, "" when absent.
func etcdGet(t *testing.T, m *etcdmember.Member, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := m.Client().Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}
