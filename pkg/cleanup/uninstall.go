package cleanup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/agent/containerd"
)

// KubeconfigRecord, in the data directory, names the kubeconfig that
// `skiff server --write-kubeconfig PATH` writes outside it, for Uninstall.
const KubeconfigRecord = "kubeconfig-path"

// RecordKubeconfig notes that the server whose data directory is dataDir
// writes its admin kubeconfig at path, so that Uninstall removes it too. A
// path inside dataDir needs no note.
func RecordKubeconfig(dataDir, path string) error {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	record := filepath.Join(dir, KubeconfigRecord)
	if within(abs, dir) {
		err := os.Remove(record)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(record, []byte(abs+"\n"), 0o600)
}

func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// dataDirEntries are the names skiff makes at the top of a data directory.
var dataDirEntries = map[string]bool{"server": true, "agent": true, "kubeconfig.yaml": true, LockFile: true, KubeconfigRecord: true}

// notADataDir says why dir does not look like a Skiff data directory ("" if
// it does): it must hold server/ or agent/, or only what skiff makes there.
func notADataDir(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var others []string
	for _, e := range entries {
		if e.IsDir() && (e.Name() == "server" || e.Name() == "agent") {
			return ""
		}
		if !dataDirEntries[e.Name()] {
			others = append(others, e.Name())
		}
	}
	if len(others) == 0 {
		return ""
	}
	return fmt.Sprintf("it has no server/ or agent/ directory, and holds %s", listNames(others))
}

// Uninstall does what Killall does, then removes the data directory, the
// kubeconfig the server wrote outside it (if it still is this cluster's) and
// the pods' cgroup parent (opts.CgroupRoot) once it is empty. It refuses a directory
// that does not look like a Skiff data directory, and removes nothing while
// anything is mounted below it. Run again, it finds nothing and reports so.
func Uninstall(ctx context.Context, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	dir := opts.DataDir
	if dir == "/" || dir == filepath.Dir(dir) {
		return fmt.Errorf("refusing to uninstall the data directory %q", dir)
	}
	_, statErr := os.Stat(dir)
	if statErr == nil {
		if why := notADataDir(dir); why != "" {
			return fmt.Errorf("%s does not look like a Skiff data directory (%s): not removing it", dir, why)
		}
	}
	release, err := lockExclusive(dir)
	if err != nil {
		return err
	}
	defer release()
	r := &reporter{w: opts.Out}
	if err := killall(ctx, opts, r); err != nil {
		return fmt.Errorf("%w (nothing was uninstalled; run skiff uninstall again once it is fixed)", err)
	}
	if statErr == nil {
		if left := containerd.MountsUnder(dir); len(left) > 0 {
			return fmt.Errorf("still mounted below %s: %s; not removing it", dir, listNames(left))
		}
		if err := removeKubeconfig(dir, r); err != nil {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing %s: %w", dir, err)
		}
		r.printf("removed %s (the cluster's data, certificates and kubeconfig.yaml)", dir)
	}
	removeCgroupRoot(opts.CgroupRoot, r)
	if r.done == 0 {
		fmt.Fprintf(opts.Out, "Nothing to uninstall: %s does not exist and nothing of its node is running.\n", dir)
	} else {
		fmt.Fprintf(opts.Out, "The Skiff node in %s is uninstalled.\n", dir)
	}
	return nil
}

// removeKubeconfig removes the kubeconfig recorded for --write-kubeconfig if
// it still holds this cluster's CA: the file may since have been replaced by
// another cluster's.
func removeKubeconfig(dataDir string, r *reporter) error {
	b, err := os.ReadFile(filepath.Join(dataDir, KubeconfigRecord))
	if err != nil {
		return nil
	}
	path := strings.TrimSpace(string(b))
	if path == "" || within(path, dataDir) {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	ca, _ := os.ReadFile(filepath.Join(dataDir, "server", "tls", "ca.crt"))
	cfg, err := clientcmd.LoadFromFile(path)
	ours := false
	if err == nil && len(ca) > 0 {
		for _, c := range cfg.Clusters {
			ours = ours || bytes.Equal(bytes.TrimSpace(c.CertificateAuthorityData), bytes.TrimSpace(ca))
		}
	}
	if !ours {
		fmt.Fprintf(r.w, "kept %s: it is no longer this cluster's kubeconfig\n", path)
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing the kubeconfig %s: %w", path, err)
	}
	r.printf("removed %s (the kubeconfig --write-kubeconfig wrote)", path)
	return nil
}

// removeCgroupRoot removes the pods' cgroup parent from every hierarchy where
// it is empty; another node's pods may still be in it.
func removeCgroupRoot(root string, r *reporter) {
	if strings.Trim(root, "/") == "" {
		return
	}
	removed := false
	for _, m := range containerd.CgroupMounts() {
		removed = unix.Rmdir(filepath.Join(m, root)) == nil || removed
	}
	if removed {
		r.printf("removed cgroup %s", root)
	}
}
