package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	p := PathsFor("/var/lib/skiff")
	b, err := renderConfig(configParams{Paths: p, SandboxImage: "registry.skiff.local/pause:3.10", Snapshotter: "overlayfs", CNIBinDir: "/usr/lib/cni"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, want := range []string{
		`root = "/var/lib/skiff/agent/containerd/root"`,
		`state = "/var/lib/skiff/agent/containerd/state"`,
		`address = "/var/lib/skiff/agent/containerd/containerd.sock"`,
		`sandbox_image = "registry.skiff.local/pause:3.10"`,
		`restrict_oom_score_adj = true`,
		`snapshotter = "overlayfs"`,
		`SystemdCgroup = false`,
		`Root = "/var/lib/skiff/agent/containerd/runc"`,
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/var/lib/skiff/agent/cni/net.d"`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
}

// TestMirrorHosts: with a mirror, containerd's CRI reads the registry hosts
// directory, whose _default entry sends every registry through the cluster
// registry first with the node's certificate; without one, neither appears.
func TestMirrorHosts(t *testing.T) {
	p := PathsFor("/var/lib/skiff")
	b, err := renderConfig(configParams{Paths: p, SandboxImage: "x", Snapshotter: "native", CNIBinDir: "/usr/lib/cni", Mirror: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `config_path = "/var/lib/skiff/agent/containerd/certs.d"`) {
		t.Errorf("config without config_path:\n%s", b)
	}
	b, _ = renderConfig(configParams{Paths: p, SandboxImage: "x", Snapshotter: "native", CNIBinDir: "/usr/lib/cni"})
	if strings.Contains(string(b), "config_path") {
		t.Errorf("config_path without a mirror:\n%s", b)
	}

	dir := filepath.Join(t.TempDir(), "certs.d")
	os.MkdirAll(filepath.Join(dir, "docker.io"), 0o755) // stale: a host directory would shadow _default
	m := Mirror{URL: "https://10.0.0.1:6443/", CAFile: "/tls/ca.crt", CertFile: "/tls/node.crt", KeyFile: "/tls/node.key"}
	if err := writeHostsDir(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "_default", "hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`[host."https://10.0.0.1:6443"]`,
		`capabilities = ["pull", "resolve"]`,
		`ca = "/tls/ca.crt"`,
		`client = [["/tls/node.crt", "/tls/node.key"]]`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("hosts.toml lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "server =") {
		t.Errorf("hosts.toml names a server; the fallback must be each image's own registry:\n%s", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("certs.d holds %d entries, want only _default", len(entries))
	}
	if err := writeHostsDir(dir, Mirror{URL: "10.0.0.1:6443"}); err == nil {
		t.Error("a mirror URL without a scheme was accepted")
	}
}

// TestMirrorFallbacks: the other servers' registries come after the mirror,
// in order, and go when they leave; the file is replaced whole.
func TestMirrorFallbacks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs.d")
	m := Mirror{URL: "https://10.0.0.1:6443", CAFile: "/tls/ca.crt"}
	if err := writeHostsDir(dir, m); err != nil {
		t.Fatal(err)
	}
	s := &Supervisor{opts: Options{Mirror: m}, paths: Paths{HostsDir: dir}}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "_default", "hosts.toml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := s.SetMirrorFallbacks([]string{"https://10.0.0.2:6443", "https://10.0.0.3:6443"}); err != nil {
		t.Fatal(err)
	}
	got := read()
	first, second, third := strings.Index(got, `[host."https://10.0.0.1:6443"]`), strings.Index(got, `[host."https://10.0.0.2:6443"]`), strings.Index(got, `[host."https://10.0.0.3:6443"]`)
	if first < 0 || second < first || third < second || strings.Count(got, `ca = "/tls/ca.crt"`) != 3 {
		t.Errorf("hosts.toml with two fallbacks:\n%s", got)
	}
	if err := s.SetMirrorFallbacks(nil); err != nil {
		t.Fatal(err)
	}
	if got := read(); strings.Contains(got, "10.0.0.2") || !strings.Contains(got, "10.0.0.1") {
		t.Errorf("hosts.toml once the others left:\n%s", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "_default")); len(entries) != 1 {
		t.Errorf("_default holds %d entries, want hosts.toml alone", len(entries))
	}
}
