package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ErrMissingBinaries is wrapped by Preflight's error when programs the runtime
// needs are not installed.
var ErrMissingBinaries = errors.New("container runtime binaries are missing")

// requirement is one program the runtime needs and the Debian package that
// ships it.
type requirement struct {
	path    string // a name looked up in PATH, or an absolute path
	pkg     string
	purpose string
}

func requirements(containerdBin, cniBinDir string, nsenter bool) []requirement {
	reqs := []requirement{
		{containerdBin, "containerd", "the container runtime"},
		{"containerd-shim-runc-v2", "containerd", "the runtime's per-pod shim"},
		{"ctr", "containerd", "importing the pause image"},
		{"runc", "runc", "the OCI runtime"},
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback", "portmap"} {
		reqs = append(reqs, requirement{filepath.Join(cniBinDir, plugin), "containernetworking-plugins", "the pod network"})
	}
	if nsenter {
		reqs = append(reqs, requirement{"nsenter", "util-linux", "starting containerd in a network namespace"})
	}
	return reqs
}

// Preflight checks that every program the supervised runtime needs is
// installed, and names the Debian packages that provide the missing ones.
func Preflight(containerdBin, cniBinDir string, nsenter bool) error {
	var missing []string
	pkgs := map[string]bool{}
	for _, r := range requirements(containerdBin, cniBinDir, nsenter) {
		if found(r.path) {
			continue
		}
		missing = append(missing, fmt.Sprintf("%s (%s, package %s)", r.path, r.purpose, r.pkg))
		pkgs[r.pkg] = true
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	return fmt.Errorf("%w: %s; install them with: apt-get install %s (or pass --container-runtime-endpoint to use a runtime you run yourself)",
		ErrMissingBinaries, strings.Join(missing, ", "), strings.Join(names, " "))
}

func found(path string) bool {
	if filepath.IsAbs(path) {
		st, err := os.Stat(path)
		return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
	}
	_, err := exec.LookPath(path)
	return err == nil
}
