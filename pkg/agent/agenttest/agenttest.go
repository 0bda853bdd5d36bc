// Package agenttest holds what end-to-end tests of the node agent share:
// skipping unless root with a container runtime installed, network namespaces
// the test creates and removes, a supervised containerd inside one, and the
// images the tests run. Everything it starts is removed in t.Cleanup, even
// when the test fails.
//
// It is for tests only: the skiff binary must not import it.
package agenttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/agent/containerd"
	"github.com/skiffhq/skiff/pkg/agent/netns"
	"github.com/skiffhq/skiff/pkg/images"
)

// RequireRuntime skips the test unless it runs as root on a machine with
// containerd, runc, the CNI plugins and iproute2 installed.
func RequireRuntime(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("end-to-end agent test: needs root (it runs containerd, network namespaces and cgroups)")
	}
	if err := containerd.Preflight(containerd.DefaultBinary, containerd.DefaultCNIBinDir, true); err != nil {
		t.Skipf("end-to-end agent test: %v", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("end-to-end agent test: needs ip (Debian package iproute2)")
	}
}

// NetNS is a network namespace created for one test.
type NetNS struct {
	Name string
	Path string // /run/netns/NAME
	netns.Dialer
}

// NewNetNS creates a network namespace with its loopback up, and deletes it
// (with every interface in it) when the test ends.
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "skiff-t-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	n := &NetNS{Name: name, Path: "/run/netns/" + name}
	n.Dialer = netns.Dialer{Path: n.Path, Timeout: 5 * time.Second}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	n.MustIP(t, "link", "set", "lo", "up")
	return n
}

// MustIP runs `ip -n NAME args...`.
func (n *NetNS) MustIP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, out)
	}
}

// Get fetches url from inside the namespace and returns the body.
func (n *NetNS) Get(ctx context.Context, url string) (string, error) {
	req, err := httpRequest(ctx, url)
	if err != nil {
		return "", err
	}
	resp, err := n.HTTPClient(5 * time.Second).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	return readBody(resp)
}

// DataDir returns a fresh data directory short enough for containerd's unix
// socket paths (t.TempDir() under a long test name is not), removed at the end.
func DataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = containerd.UnmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	return dir
}

// CgroupRoot returns a cgroup parent unique to this test, removed at the end.
func CgroupRoot(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	root := "/skiff-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if err := containerd.RemoveCgroups(root); err != nil {
			t.Errorf("removing cgroups: %v", err)
		}
	})
	return root
}

// Purge registers (first, so that it runs last) the removal of every trace of
// the runtime in dataDir: containers, shims, containerd, pod network
// namespaces, cgroups under cgroupRoot and mounts.
func Purge(t testing.TB, dataDir, cgroupRoot string) {
	t.Helper()
	t.Cleanup(func() {
		if err := containerd.Purge(dataDir, containerd.PurgeOptions{CgroupRoot: cgroupRoot}); err != nil {
			t.Errorf("purging the runtime: %v", err)
		}
	})
}

// ImportPause imports Skiff's pause image into the supervised containerd; it
// is the AfterStart the agent uses too.
func ImportPause(ctx context.Context, s *containerd.Supervisor) error {
	dir, err := os.MkdirTemp("", "skiff-pause-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "pause.tar")
	if err := images.WritePauseFile(p); err != nil {
		return err
	}
	return images.Importer{Address: s.Paths().Socket, Snapshotter: s.Snapshotter()}.Import(ctx, p)
}

// StartContainerd starts a supervised containerd for dataDir inside ns with
// the pause image imported, and stops it when the test ends.
func StartContainerd(t testing.TB, dataDir string, ns *NetNS, cgroupRoot string) *containerd.Supervisor {
	t.Helper()
	Purge(t, dataDir, cgroupRoot)
	s, err := containerd.New(containerd.Options{
		DataDir:        dataDir,
		SandboxImage:   images.PauseRef,
		NetNS:          ns.Path,
		AfterStart:     ImportPause,
		RestartBackoff: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("containerd supervisor: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("containerd did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatalf("containerd not ready after 60s (log %s)", s.Paths().Log)
	}
	return s
}

var (
	demoOnce sync.Once
	demoDir  string
	demoPath string
	demoErr  error
)

// RemoveBuilt removes the images DemoImage built; call it from TestMain
// after m.Run.
func RemoveBuilt() {
	if demoDir != "" {
		_ = os.RemoveAll(demoDir)
	}
}

// DemoImage builds the kubia demo image tarball once per test binary (see
// RemoveBuilt).
func DemoImage(t testing.TB) string {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-kubia-")
		if err != nil {
			demoErr = err
			return
		}
		demoDir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		demoPath, demoErr = images.BuildDemo(ctx, dir)
	})
	if demoErr != nil {
		t.Fatalf("building the demo image: %v", demoErr)
	}
	return demoPath
}

// ImportDemo builds (once) and imports the kubia demo image into s.
func ImportDemo(t testing.TB, s *containerd.Supervisor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := (images.Importer{Address: s.Paths().Socket, Snapshotter: s.Snapshotter()}).Import(ctx, DemoImage(t)); err != nil {
		t.Fatal(err)
	}
}
