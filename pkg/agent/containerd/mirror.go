package containerd

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Mirror is a registry containerd pulls every image through first (Skiff's
// cluster registry), falling back to the registry the image names.
type Mirror struct {
	// URL is the registry's base URL, "https://HOST:PORT".
	URL string
	// CAFile verifies the registry's serving certificate; CertFile and
	// KeyFile are the node's client certificate, which it pulls with.
	CAFile, CertFile, KeyFile string
}

// hostsTOML is containerd's registry host configuration for every registry
// (the _default directory of config_path): the mirror first, for pulls and
// tag resolution; the registry the image names after it, which is what
// containerd does with a hosts.toml that sets no server.
func hostsTOML(m Mirror) ([]byte, error) {
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("registry mirror URL %q: want https://HOST:PORT", m.URL)
	}
	var b strings.Builder
	b.WriteString("# Written by the Skiff agent at every start; edits are overwritten.\n")
	b.WriteString("# Every registry is tried through the cluster registry first, then directly.\n")
	fmt.Fprintf(&b, "[host.%s]\n", q(strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")))
	b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
	if m.CAFile != "" {
		fmt.Fprintf(&b, "  ca = %s\n", q(m.CAFile))
	}
	if m.CertFile != "" && m.KeyFile != "" {
		fmt.Fprintf(&b, "  client = [[%s, %s]]\n", q(m.CertFile), q(m.KeyFile))
	}
	return []byte(b.String()), nil
}

// writeHostsDir replaces dir with the registry host configuration for m;
// without a mirror it stays empty, which leaves containerd's defaults.
func writeHostsDir(dir string, m Mirror) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if m.URL == "" {
		return os.MkdirAll(dir, 0o755)
	}
	cfg, err := hostsTOML(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "_default"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "_default", "hosts.toml"), cfg, 0o644)
}
