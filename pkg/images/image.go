package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is every file's and every image's timestamp, so that building the same
// image twice gives the same digest (and importing it again changes nothing).
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// File is one regular file of an image's single layer.
type File struct {
	Path string // absolute or relative to /, e.g. "/pause"
	Mode int64  // permission bits, e.g. 0o755
	Data []byte
}

// Spec describes a one-layer image.
type Spec struct {
	Files        []File
	Dirs         []string // extra empty directories (mode 0755; "tmp" gets 1777)
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	ExposedPorts []string // "8080/tcp"
	StopSignal   string
	Arch         string // default amd64
}

// Build makes a one-layer linux image from spec.
func Build(spec Spec) (v1.Image, error) {
	layerTar, err := layerTarball(spec)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = spec.Arch
	if cf.Architecture == "" {
		cf.Architecture = "amd64"
	}
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = spec.Entrypoint
	cf.Config.Cmd = spec.Cmd
	cf.Config.Env = spec.Env
	cf.Config.WorkingDir = spec.WorkingDir
	cf.Config.StopSignal = spec.StopSignal
	if len(spec.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range spec.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return mutate.CreatedAt(img, v1.Time{Time: epoch})
}

// layerTarball lays out spec's files (and their parent directories) as an
// uncompressed tar with fixed owners and times.
func layerTarball(spec Spec) ([]byte, error) {
	dirs := map[string]bool{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	files := make([]File, 0, len(spec.Files))
	for _, f := range spec.Files {
		f.Path = strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		if f.Path == "" {
			return nil, fmt.Errorf("image file with an empty path")
		}
		addParents(f.Path)
		files = append(files, f)
	}
	for _, d := range spec.Dirs {
		d = strings.TrimPrefix(path.Clean("/"+d), "/")
		if d != "" {
			dirs[d] = true
			addParents(d)
		}
	}
	sortedDirs := make([]string, 0, len(dirs))
	for d := range dirs {
		sortedDirs = append(sortedDirs, d)
	}
	sort.Strings(sortedDirs)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range sortedDirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: mode, Size: int64(len(f.Data)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes img, tagged ref, as an image tarball (the `docker save` layout,
// which `ctr images import`, `skiff image import` and `docker load` read).
func Write(w io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	return tarball.Write(tag, img, w)
}

// WriteFile is Write to a new file at path.
func WriteFile(path, ref string, img v1.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, ref, img); err != nil {
		f.Close()
		return fmt.Errorf("writing image %s to %s: %w", ref, path, err)
	}
	return f.Close()
}
