package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// CRINamespace is the containerd namespace the CRI plugin keeps its images in.
const CRINamespace = "k8s.io"

// Importer loads image tarballs into a containerd with its own `ctr` client.
type Importer struct {
	// Address is containerd's gRPC socket.
	Address string
	// Snapshotter unpacks the layers; it must be the one the CRI plugin uses
	// (ctr defaults to overlayfs).
	Snapshotter string
	// Namespace defaults to CRINamespace.
	Namespace string
	// Ctr is the ctr binary (default "ctr" from PATH; Debian's containerd
	// package ships it).
	Ctr string
}

// Import loads the image tarballs (docker-archive or OCI layout) at paths.
func (im Importer) Import(ctx context.Context, paths ...string) error {
	ctr := im.Ctr
	if ctr == "" {
		ctr = "ctr"
	}
	bin, err := exec.LookPath(ctr)
	if err != nil {
		return fmt.Errorf("importing images needs %s (Debian package containerd): %w", ctr, err)
	}
	ns := im.Namespace
	if ns == "" {
		ns = CRINamespace
	}
	for _, p := range paths {
		args := []string{"--address", im.Address, "--namespace", ns, "images", "import", "--digests"}
		if im.Snapshotter != "" {
			args = append(args, "--snapshotter", im.Snapshotter)
		}
		args = append(args, p)
		cmd := exec.CommandContext(ctx, bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				err = errors.Join(ctx.Err(), err)
			}
			return fmt.Errorf("importing image tarball %s: %w: %s", p, err, strings.TrimSpace(out.String()))
		}
	}
	return nil
}
