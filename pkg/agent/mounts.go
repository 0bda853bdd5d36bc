package agent

import (
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/pkg/agent/containerd"
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
// differs from its parent's, or the mount table lists it.
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
	for _, m := range containerd.MountsUnder(dir) {
		if m == dir {
			return true, nil
		}
	}
	return false, nil
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error { return containerd.UnmountUnder(dir) }
