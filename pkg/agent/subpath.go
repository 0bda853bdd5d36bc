package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// subPathOf is a volume mount's subPath, with subPathExpr expanded against the
// container's environment as upstream's kubelet does; it may be neither
// absolute nor climb out of the volume.
func subPathOf(m *corev1.VolumeMount, env []*runtimeapi.KeyValue) (string, error) {
	p := m.SubPath
	if m.SubPathExpr != "" {
		p = expandAll([]string{m.SubPathExpr}, env)[0]
	}
	if p == "" {
		return "", nil
	}
	if filepath.IsAbs(p) {
		return "", configErrorf("failed to prepare subPath for volumeMount %q: subpath %q must not be an absolute path", m.Name, p)
	}
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." {
			return "", configErrorf("failed to prepare subPath for volumeMount %q: subpath %q must not contain '..'", m.Name, p)
		}
	}
	return p, nil
}

// bindSubPath makes subPath of the volume at volume available to a container:
// it resolves the path inside the volume (following links only while they
// stay inside it, so that a link a pod wrote cannot expose the node's files),
// creates it as a directory when it does not exist, and bind mounts what it
// found at a path of the agent's, below the pod's directory, which is what the
// runtime mounts. The bind is made again at every container start.
func bindSubPath(volume, subPath, target string) error {
	base, err := unix.Open(volume, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening volume %s: %w", volume, err)
	}
	defer unix.Close(base)
	fd, err := openBeneath(base, subPath)
	if errors.Is(err, unix.ENOENT) {
		// Made with the volume's own mode, as upstream: an emptyDir's
		// subdirectories are open to every user of the pod, like it.
		var vst unix.Stat_t
		if err = unix.Fstat(base, &vst); err == nil {
			err = mkdirBeneath(base, subPath, vst.Mode&0o7777)
		}
		if err == nil {
			fd, err = openBeneath(base, subPath)
		}
	}
	if err != nil {
		if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
			return configErrorf("subPath %q leaves its volume", subPath)
		}
		return fmt.Errorf("subPath %q: %w", subPath, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if err := unmountUnder(target); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	_ = os.Remove(target)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(target, 0o755)
	} else {
		err = os.WriteFile(target, nil, 0o644)
	}
	if err != nil {
		return err
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding subPath %q: %w", subPath, err)
	}
	return nil
}

// openBeneath opens p relative to dir, refusing any resolution that leaves
// dir (.., absolute links, /proc magic links).
func openBeneath(dir int, p string) (int, error) {
	return unix.Openat2(dir, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// mkdirBeneath creates p and its missing parents inside dir, each opened
// beneath dir before the next is made in it.
func mkdirBeneath(dir int, p string, perm uint32) error {
	parts := strings.Split(filepath.Clean(p), "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := openBeneath(dir, prefix)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return err
		}
		parent := dir
		if i > 0 {
			if parent, err = openBeneath(dir, strings.Join(parts[:i], "/")); err != nil {
				return err
			}
		}
		err = unix.Mkdirat(parent, parts[i], perm)
		if err == nil {
			// Mkdirat's mode went through the umask.
			err = unix.Fchmodat(parent, parts[i], perm, 0)
		}
		if parent != dir {
			unix.Close(parent)
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return nil
}
