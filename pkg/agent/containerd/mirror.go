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
	// Fallbacks are more registries serving the same content (the other
	// servers'), tried in order when URL does not answer, before the
	// registry the image names.
	Fallbacks []string
	// CAFile verifies the registry's serving certificate; CertFile and
	// KeyFile are the node's client certificate, which it pulls with.
	CAFile, CertFile, KeyFile string
}

// hostsTOML is containerd's registry host configuration for every registry
// (the _default directory of config_path): the mirror first, for pulls and
// tag resolution; the registry the image names after it, which is what
// containerd does with a hosts.toml that sets no server.
func hostsTOML(m Mirror) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# Written by the Skiff agent; edits are overwritten.\n")
	b.WriteString("# Every registry is tried through the cluster registry first, then directly.\n")
	for _, raw := range append([]string{m.URL}, m.Fallbacks...) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("registry mirror URL %q: want https://HOST:PORT", raw)
		}
		fmt.Fprintf(&b, "[host.%s]\n", q(strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")))
		b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
		if m.CAFile != "" {
			fmt.Fprintf(&b, "  ca = %s\n", q(m.CAFile))
		}
		if m.CertFile != "" && m.KeyFile != "" {
			fmt.Fprintf(&b, "  client = [[%s, %s]]\n", q(m.CertFile), q(m.KeyFile))
		}
	}
	return []byte(b.String()), nil
}

// writeHostsTOML replaces the configuration of an existing hosts dir at
// once: containerd reads it at every pull, and must never see half a file.
func writeHostsTOML(dir string, m Mirror) error {
	cfg, err := hostsTOML(m)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "_default", "hosts.toml")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, cfg, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
	if err := os.MkdirAll(filepath.Join(dir, "_default"), 0o755); err != nil {
		return err
	}
	return writeHostsTOML(dir, m)
}
