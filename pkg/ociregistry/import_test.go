package ociregistry

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// savedImage is one image of a `docker save`-style tarball written by
// writeDockerSave: uncompressed layers, each a tar holding one file of
// layerSize random bytes.
type savedImage struct {
	ref       string
	layers    int
	layerSize int64
}

// writeDockerSave writes a docker-archive as `docker save` does (layer
// tarballs uncompressed, named <id>/layer.tar) and returns the layers'
// diff IDs per image.
func writeDockerSave(t testing.TB, path string, imgs ...savedImage) [][]string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []entry
	var diffIDs [][]string
	for i, img := range imgs {
		var ids, files []string
		for l := 0; l < img.layers; l++ {
			// The layer: a tar of one random file, hashed as it is written.
			dir := fmt.Sprintf("img%d-layer%d", i, l)
			tmp := filepath.Join(t.TempDir(), "layer.tar")
			lf, err := os.Create(tmp)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			ltw := tar.NewWriter(io.MultiWriter(lf, h))
			if err := ltw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data-%d", l), Mode: 0o644, Size: img.layerSize, Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(ltw, rand.Reader, img.layerSize); err != nil {
				t.Fatal(err)
			}
			ltw.Close()
			size, _ := lf.Seek(0, io.SeekCurrent)
			lf.Seek(0, io.SeekStart)
			if err := tw.WriteHeader(&tar.Header{Name: dir + "/layer.tar", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(tw, lf); err != nil {
				t.Fatal(err)
			}
			lf.Close()
			os.Remove(tmp)
			ids = append(ids, "sha256:"+hex.EncodeToString(h.Sum(nil)))
			files = append(files, dir+"/layer.tar")
		}
		cfg, _ := json.Marshal(map[string]any{
			"architecture": "amd64", "os": "linux",
			"config": map[string]any{"Cmd": []string{"/data-0"}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": ids},
		})
		sum := sha256.Sum256(cfg)
		cfgName := hex.EncodeToString(sum[:]) + ".json"
		if err := tw.WriteHeader(&tar.Header{Name: cfgName, Mode: 0o644, Size: int64(len(cfg)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(cfg)
		manifest = append(manifest, entry{Config: cfgName, RepoTags: []string{img.ref}, Layers: files})
		diffIDs = append(diffIDs, ids)
	}
	mb, _ := json.Marshal(manifest)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(mb)), Typeflag: tar.TypeReg})
	tw.Write(mb)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return diffIDs
}

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func refsOf(t *testing.T, s *Store) []string {
	t.Helper()
	imgs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range imgs {
		out = append(out, i.Ref())
	}
	return out
}

// expectEmpty fails unless the store holds nothing at all: no image, no
// blob, no temporary file.
func expectEmpty(t *testing.T, s *Store) {
	t.Helper()
	var files []string
	filepath.WalkDir(s.Dir(), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("the failed import left %d files: %v", len(files), files)
	}
}

// TestImportDockerSave: a docker-archive with two images, uncompressed layers
// as `docker save` writes them, lands under both names; the manifests name
// the layers by their diff IDs; a second import changes nothing.
func TestImportDockerSave(t *testing.T) {
	s := openStore(t)
	file := filepath.Join(t.TempDir(), "two.tar")
	diffIDs := writeDockerSave(t, file, savedImage{"luksa/kubia:latest", 2, 3000}, savedImage{"ghcr.io/acme/tool:1.0", 1, 5000})
	var last, total int64
	refs, err := Import(context.Background(), s, file, func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docker.io/luksa/kubia:latest", "ghcr.io/acme/tool:1.0"}
	if !slices.Equal(refs, want) || !slices.Equal(refsOf(t, s), want) {
		t.Fatalf("imported %v, listed %v; want %v", refs, refsOf(t, s), want)
	}
	if fi, _ := os.Stat(file); last != fi.Size() || total != fi.Size() {
		t.Errorf("progress ended at %d/%d, file is %d bytes", last, total, fi.Size())
	}
	_, b, err := s.Manifest("docker.io/luksa/kubia", "latest")
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range m.Layers {
		if l.Digest.String() != diffIDs[0][i] {
			t.Errorf("layer %d is %s, want its diff ID %s", i, l.Digest, diffIDs[0][i])
		}
	}
	before, _ := os.ReadDir(filepath.Join(s.Dir(), "blobs", "sha256"))
	if _, err := Import(context.Background(), s, file, nil); err != nil {
		t.Fatalf("importing again: %v", err)
	}
	after, _ := os.ReadDir(filepath.Join(s.Dir(), "blobs", "sha256"))
	if len(before) != len(after) {
		t.Errorf("a second import changed the blob count from %d to %d", len(before), len(after))
	}
}

// TestImportGoContainerregistryTarball: the tarballs pkg/images writes
// (compressed layers) import with the image's config and layers unchanged.
func TestImportGoContainerregistryTarball(t *testing.T) {
	s := openStore(t)
	a, b := randomImage(t, 4000, 2), randomImage(t, 4000, 1)
	tagA, _ := name.NewTag("docker.io/library/alpha:1")
	tagB, _ := name.NewTag("quay.io/beta/b:2")
	file := filepath.Join(t.TempDir(), "multi.tar")
	if err := tarball.MultiRefWriteToFile(file, map[name.Reference]v1.Image{tagA: a, tagB: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(context.Background(), s, file, nil); err != nil {
		t.Fatal(err)
	}
	if got := refsOf(t, s); !slices.Equal(got, []string{"docker.io/library/alpha:1", "quay.io/beta/b:2"}) {
		t.Fatalf("listed %v", got)
	}
	_, mb, err := s.Manifest("docker.io/library/alpha", "1")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v1.ParseManifest(strings.NewReader(string(mb)))
	cfgName, _ := a.ConfigName()
	orig, _ := a.Manifest()
	if m.Config.Digest != cfgName || len(m.Layers) != 2 || m.Layers[0].Digest != orig.Layers[0].Digest || m.Layers[1].Digest != orig.Layers[1].Digest {
		t.Fatalf("stored manifest %s does not keep the image's config and layers", mb)
	}
}

// writeOCIArchive writes images as an OCI image layout archive, each named
// by containerd's annotation.
func writeOCIArchive(t *testing.T, file string, imgs map[string]v1.Image) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for ref, img := range imgs {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "ignored"})); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, _ := os.ReadFile(path)
		tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
		return nil
	})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestImportOCIArchive: an OCI layout archive of two images keeps their
// manifests byte for byte (the same digests) under their names.
func TestImportOCIArchive(t *testing.T) {
	s := openStore(t)
	a, b := randomImage(t, 3000, 2), randomImage(t, 3000, 1)
	file := filepath.Join(t.TempDir(), "oci.tar")
	writeOCIArchive(t, file, map[string]v1.Image{"docker.io/luksa/kubia:v2": a, "registry.k8s.io/pause:3.10": b})
	if _, err := Import(context.Background(), s, file, nil); err != nil {
		t.Fatal(err)
	}
	for repo, img := range map[string]v1.Image{"docker.io/luksa/kubia:v2": a, "registry.k8s.io/pause:3.10": b} {
		r, tag, _ := strings.Cut(repo, ":")
		desc, _, err := s.Manifest(r, tag)
		if err != nil {
			t.Fatal(err)
		}
		if want := digestOf(t, img); desc.Digest.String() != want {
			t.Errorf("%s: digest %s, want %s", repo, desc.Digest, want)
		}
	}
}

// TestImportCorruptLeavesNothing: a flipped byte in the second image's layer,
// a truncated file and a file that is no image tarball all fail with an
// error naming the file, and leave the store empty.
func TestImportCorruptLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tar")
	writeDockerSave(t, good, savedImage{"one:1", 1, 20000}, savedImage{"two:1", 1, 20000})
	data, _ := os.ReadFile(good)

	flipped := filepath.Join(dir, "flipped.tar")
	bad := slices.Clone(data)
	// The second layer's random file content sits well inside the second
	// half of the archive (the first image's layer comes first).
	i := strings.Index(string(bad), "img1-layer0/layer.tar")
	bad[i+5000] ^= 0xff
	os.WriteFile(flipped, bad, 0o644)

	truncated := filepath.Join(dir, "truncated.tar")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)

	notTar := filepath.Join(dir, "readme.tar")
	os.WriteFile(notTar, []byte("hello, this is not a tarball at all, just some text to read\n"), 0o644)

	for file, want := range map[string]string{flipped: "corrupt", truncated: "truncated", notTar: ""} {
		s := openStore(t)
		_, err := Import(context.Background(), s, file, nil)
		if err == nil {
			t.Fatalf("%s imported without an error", file)
		}
		if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should name %s and say %q", err, file, want)
		}
		expectEmpty(t, s)
	}
}
