package containerd

import (
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
