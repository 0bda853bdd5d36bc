package containerd

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// chooseSnapshotter returns "overlayfs" when an overlay filesystem can be
// mounted under root (it cannot on top of another overlay, or without the
// module), and "native" (plain copies, slower but works anywhere) otherwise.
func chooseSnapshotter(root string) (string, error) {
	if err := os.MkdirAll(root, 0o711); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(root, "overlay-check-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	merged := filepath.Join(dir, "merged")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return "native", nil
	}
	if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
		return "", fmt.Errorf("unmounting the overlay check at %s: %w", merged, err)
	}
	return "overlayfs", nil
}
