package ociregistry

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Progress hears how far an import of a file has got, in bytes.
type Progress func(done, total int64)

// Import stores every image of the tarball at file (a `docker save`
// docker-archive, or an OCI image layout archive such as `ctr images export`
// writes) in s under its names, and returns those names. Every blob is
// verified first: a corrupt or truncated file fails with an error naming
// it and leaves the store as it was. Content already stored is not copied
// again, so importing the same file twice is cheap.
func Import(ctx context.Context, s *Store, file string, progress Progress) ([]string, error) {
	refs, err := importFile(ctx, s, file, progress)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", file, err)
	}
	return refs, nil
}

// pendingLink is a manifest to record in a repository once every blob of
// the file is stored.
type pendingLink struct {
	repo, tag, mediaType string
	digest               v1.Hash
}

type importer struct {
	ctx      context.Context
	s        *Store
	a        *archive
	progress Progress
	done     int64
	created  []v1.Hash
	links    []pendingLink
	names    []string
}

func importFile(ctx context.Context, s *Store, file string, progress Progress) ([]string, error) {
	a, err := openArchive(file)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	im := &importer{ctx: ctx, s: s, a: a, progress: progress}
	im.report(0)
	switch {
	case a.has("index.json") && a.has("oci-layout"):
		err = im.ociLayout()
	case a.has("manifest.json"):
		err = im.dockerArchive()
	default:
		err = errors.New("neither a docker-archive (manifest.json) nor an OCI image layout (index.json, oci-layout)")
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		im.s.removeBlobs(im.created)
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range im.links {
		if err := s.link(l.repo, l.tag, l.digest, l.mediaType); err != nil {
			return nil, err
		}
	}
	im.done = a.size
	im.report(0)
	return im.names, nil
}

func (im *importer) report(n int64) {
	im.done += n
	if im.progress != nil {
		im.progress(min(im.done, im.a.size), im.a.size)
	}
}

// countingReader reports progress and stops when the import is cancelled.
type countingReader struct {
	im *importer
	r  io.Reader
}

func (c countingReader) Read(b []byte) (int, error) {
	if err := c.im.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(b)
	c.im.report(int64(n))
	return n, err
}

// putBlob stores r as a blob (verified against want when set).
func (im *importer) putBlob(r io.Reader, want *v1.Hash, what string) (v1.Hash, int64, error) {
	d, size, created, err := im.s.PutBlob(countingReader{im, r}, want)
	if err != nil {
		if errors.Is(err, ErrDigestInvalid) {
			return d, 0, fmt.Errorf("%s is corrupt: %w", what, err)
		}
		return d, 0, fmt.Errorf("%s: %w", what, err)
	}
	if created {
		im.created = append(im.created, d)
	}
	return d, size, nil
}

// putFile stores file of the archive, unless a blob of digest want is
// stored already (then the file is not read: the stored copy was verified).
func (im *importer) putFile(file string, want *v1.Hash) (v1.Hash, int64, error) {
	r, err := im.a.open(file)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	if want != nil {
		if n, err := im.s.StatBlob(*want); err == nil && n == r.Size() {
			im.report(n)
			return *want, n, nil
		}
	}
	return im.putBlob(r, want, file)
}

func (im *importer) addNames(d v1.Hash, mediaType string, refs []string) error {
	for _, s := range refs {
		ref, err := name.ParseReference(s)
		if err != nil {
			return fmt.Errorf("image name %q: %w", s, err)
		}
		repo := RepoName(ref)
		if !validRepo(repo) {
			return fmt.Errorf("image name %q: %w", s, ErrNameInvalid)
		}
		l := pendingLink{repo: repo, mediaType: mediaType, digest: d}
		shown := repo + "@" + d.String()
		if t, ok := ref.(name.Tag); ok {
			l.tag = t.TagStr()
			shown = repo + ":" + l.tag
		} else if ref.Identifier() != d.String() {
			return fmt.Errorf("image name %q does not match its manifest %s", s, d)
		}
		im.links = append(im.links, l)
		im.names = append(im.names, shown)
	}
	return nil
}

// ociManifest is the manifest written for an image of a docker-archive,
// which carries none of its own.
type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	Config        v1.Descriptor   `json:"config"`
	Layers        []v1.Descriptor `json:"layers"`
}

// dockerArchive imports `docker save` output: manifest.json lists each
// image's config, layers and tags. Uncompressed layers (docker's) are stored
// as they are and must hash to the config's diff_ids; compressed ones
// (go-containerregistry's) are stored as they are and must decompress to
// them.
func (im *importer) dockerArchive() error {
	b, err := im.a.readSmall("manifest.json")
	if err != nil {
		return err
	}
	var images []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(b, &images); err != nil {
		return fmt.Errorf("manifest.json: %w", err)
	}
	if len(images) == 0 {
		return errors.New("manifest.json lists no image")
	}
	for i, img := range images {
		if len(img.RepoTags) == 0 {
			return fmt.Errorf("image %d (%s) has no name: tag it before saving", i+1, img.Config)
		}
		if err := im.dockerImage(img.Config, img.Layers, img.RepoTags); err != nil {
			return fmt.Errorf("image %s: %w", img.RepoTags[0], err)
		}
	}
	return nil
}

func (im *importer) dockerImage(configFile string, layerFiles, tags []string) error {
	cfgBytes, err := im.a.readSmall(configFile)
	if err != nil {
		return err
	}
	cfgDigest := sha256Of(cfgBytes)
	if named, ok := digestInName(configFile); ok && named != cfgDigest {
		return fmt.Errorf("%s is corrupt: %w: content is %s", configFile, ErrDigestInvalid, cfgDigest)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return fmt.Errorf("config %s: %w", configFile, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layerFiles) {
		return fmt.Errorf("config %s names %d layers, manifest.json %d", configFile, len(cfg.RootFS.DiffIDs), len(layerFiles))
	}
	if _, _, err := im.putBlob(bytes.NewReader(cfgBytes), &cfgDigest, configFile); err != nil {
		return err
	}
	m := ociManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(cfgBytes))},
	}
	for i, lf := range layerFiles {
		desc, err := im.dockerLayer(lf, cfg.RootFS.DiffIDs[i])
		if err != nil {
			return err
		}
		m.Layers = append(m.Layers, desc)
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return err
	}
	d, _, err := im.putBlob(bytes.NewReader(mb), nil, "manifest")
	if err != nil {
		return err
	}
	return im.addNames(d, string(m.MediaType), tags)
}

func (im *importer) dockerLayer(file string, diffID v1.Hash) (v1.Descriptor, error) {
	r, err := im.a.open(file)
	if err != nil {
		return v1.Descriptor{}, err
	}
	magic := make([]byte, 4)
	n, _ := io.ReadFull(r, magic)
	magic = magic[:n]
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		var want *v1.Hash
		if named, ok := digestInName(file); ok {
			want = &named
		}
		d, size, err := im.putFile(file, want)
		if err != nil {
			return v1.Descriptor{}, err
		}
		if err := im.checkDiffID(d, diffID, file); err != nil {
			return v1.Descriptor{}, err
		}
		return v1.Descriptor{MediaType: types.OCILayer, Digest: d, Size: size}, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return v1.Descriptor{}, fmt.Errorf("layer %s is zstd-compressed, which import does not read yet", file)
	default:
		d, size, err := im.putFile(file, &diffID)
		if err != nil {
			return v1.Descriptor{}, err
		}
		return v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: d, Size: size}, nil
	}
}

// checkDiffID verifies that the stored gzip blob d decompresses to diffID.
func (im *importer) checkDiffID(d, diffID v1.Hash, file string) error {
	f, err := im.s.OpenBlob(d)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("layer %s is corrupt: %w", file, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return fmt.Errorf("layer %s is corrupt: %w", file, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != diffID.Hex {
		return fmt.Errorf("layer %s is corrupt: %w: it unpacks to sha256:%s, the config says %s", file, ErrDigestInvalid, got, diffID)
	}
	return nil
}

// ociLayout imports an OCI image layout archive: index.json names the
// images (containerd's io.containerd.image.name annotation, or a full
// reference in org.opencontainers.image.ref.name) and blobs/ holds them.
// Manifests are kept byte for byte, so digests stay what they were.
func (im *importer) ociLayout() error {
	b, err := im.a.readSmall("index.json")
	if err != nil {
		return err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("index.json: %w", err)
	}
	if len(idx.Manifests) == 0 {
		return errors.New("index.json lists no image")
	}
	for i, desc := range idx.Manifests {
		refs := ociNames(desc.Annotations)
		if len(refs) == 0 {
			return fmt.Errorf("image %d of index.json (%s) has no name: it needs an io.containerd.image.name annotation or a full reference in org.opencontainers.image.ref.name", i+1, desc.Digest)
		}
		if err := im.ociManifest(desc, refs); err != nil {
			return fmt.Errorf("image %s: %w", refs[0], err)
		}
	}
	return nil
}

func ociNames(ann map[string]string) []string {
	if n := ann["io.containerd.image.name"]; n != "" {
		return []string{n}
	}
	if n := ann["org.opencontainers.image.ref.name"]; strings.ContainsAny(n, "/:") {
		return []string{n}
	}
	return nil
}

func blobFile(d v1.Hash) string { return path.Join("blobs", d.Algorithm, d.Hex) }

// ociManifest imports the manifest or index desc and what it references;
// refs (when set) name it, else it is linked untagged in repos.
func (im *importer) ociManifest(desc v1.Descriptor, refs []string, repos ...string) error {
	if desc.Digest.Algorithm != "sha256" {
		return fmt.Errorf("manifest %s: only sha256 digests are supported", desc.Digest)
	}
	b, err := im.a.readSmall(blobFile(desc.Digest))
	if err != nil {
		return err
	}
	if got := sha256Of(b); got != desc.Digest {
		return fmt.Errorf("manifest %s is corrupt: %w: content is %s", blobFile(desc.Digest), ErrDigestInvalid, got)
	}
	doc, mt, err := parseManifest(string(desc.MediaType), b)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if len(repos) == 0 {
		for _, r := range refs {
			ref, err := name.ParseReference(r)
			if err != nil {
				return fmt.Errorf("image name %q: %w", r, err)
			}
			repos = append(repos, RepoName(ref))
		}
	}
	if isIndex(mt) {
		var idx v1.IndexManifest
		if err := json.Unmarshal(b, &idx); err != nil {
			return err
		}
		found := 0
		for _, child := range idx.Manifests {
			// An export of one platform keeps the index of all of them.
			if !im.a.has(blobFile(child.Digest)) {
				if _, err := im.s.StatBlob(child.Digest); err != nil {
					continue
				}
				for _, r := range repos {
					im.links = append(im.links, pendingLink{repo: r, digest: child.Digest, mediaType: string(child.MediaType)})
				}
				found++
				continue
			}
			if err := im.ociManifest(child, nil, repos...); err != nil {
				return err
			}
			found++
		}
		if found == 0 {
			return fmt.Errorf("index %s: none of its manifests is in the tarball", desc.Digest)
		}
	} else {
		for _, d := range references(doc, mt) {
			if _, _, err := im.putFile(blobFile(d), &d); err != nil {
				return err
			}
		}
	}
	if _, _, err := im.putBlob(bytes.NewReader(b), &desc.Digest, blobFile(desc.Digest)); err != nil {
		return err
	}
	if refs != nil {
		return im.addNames(desc.Digest, mt, refs)
	}
	for _, r := range repos {
		im.links = append(im.links, pendingLink{repo: r, digest: desc.Digest, mediaType: mt})
	}
	return nil
}

func sha256Of(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// digestInName finds the digest a content-addressed file name carries:
// "blobs/sha256/<hex>" (docker 25 and later) or "<hex>.tar.gz", "<hex>.json"
// (go-containerregistry, older docker).
func digestInName(file string) (v1.Hash, bool) {
	base := path.Base(file)
	if path.Base(path.Dir(file)) != "sha256" {
		base, _, _ = strings.Cut(base, ".")
	}
	if len(base) != 64 {
		return v1.Hash{}, false
	}
	if _, err := hex.DecodeString(base); err != nil {
		return v1.Hash{}, false
	}
	return v1.Hash{Algorithm: "sha256", Hex: base}, true
}
