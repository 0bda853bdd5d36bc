package agent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// The agent mounts two kinds of things below a pod's directory: a tmpfs for
// each emptyDir of medium Memory, and a bind mount for each subPath a
// container mounts (see bindSubPath). removePodFiles unmounts them all before
// it removes the directory.

// mountTmpfs mounts a tmpfs of size bytes (0: the kernel's default, half of
// the memory) at dir, unless one is there already (a restarted agent).
func mountTmpfs(dir string, size int64) error {
	if mounted, err := isMountPoint(dir); err != nil || mounted {
		return err
	}
	opts := "mode=0777"
	if size > 0 {
		opts += ",size=" + strconv.FormatInt(size, 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting a tmpfs at %s: %w", dir, err)
	}
	return nil
}

// memoryVolumeSize is the size of a memory-backed emptyDir: its sizeLimit,
// bounded by the pod's memory limit when every container has one, as
// upstream's SizeMemoryBackedVolumes.
func memoryVolumeSize(pod *corev1.Pod, src *corev1.EmptyDirVolumeSource) int64 {
	var size int64
	if src.SizeLimit != nil && !src.SizeLimit.IsZero() {
		size = src.SizeLimit.Value()
	}
	var limit int64
	for _, c := range pod.Spec.Containers {
		l, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok || l.IsZero() {
			return size
		}
		limit += l.Value()
	}
	if limit > 0 && (size == 0 || limit < size) {
		size = limit
	}
	return size
}

// isMountPoint reports whether dir is the root of a mount: its device
// differs from its parent's, or it is the same inode (a bind of the parent
// onto itself never happens here).
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	if st.Dev != parent.Dev {
		return true, nil
	}
	// A bind mount of a directory of the same file system keeps the device;
	// the mount table knows.
	mounts, err := mountsUnder(dir)
	if err != nil {
		return false, err
	}
	for _, m := range mounts {
		if m == dir {
			return true, nil
		}
	}
	return false, nil
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var first error
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT && first == nil {
			first = fmt.Errorf("unmounting %s: %w", m, err)
		}
	}
	return first
}
