package ociregistry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Errors of the store; the Handler maps them to the distribution spec's codes.
var (
	ErrBlobUnknown     = errors.New("blob unknown to registry")
	ErrManifestUnknown = errors.New("manifest unknown")
	ErrNameUnknown     = errors.New("repository name not known to registry")
	ErrNameInvalid     = errors.New("invalid repository name")
	ErrTagInvalid      = errors.New("invalid tag")
	ErrDigestInvalid   = errors.New("provided digest did not match uploaded content")
	ErrManifestInvalid = errors.New("manifest invalid")
	ErrManifestBlob    = errors.New("manifest references a blob unknown to registry")
)

// Store is the registry's content in one directory:
//
//	blobs/sha256/<hex>                        every blob and manifest, by digest
//	repos/<repo>/_manifests/sha256/<hex>      the manifest is in repo; holds its media type
//	repos/<repo>/_tags/<tag>                  holds the tagged manifest's digest
//	tmp/                                      uploads and writes in progress
//
// Repository path components never start with "_", so the two
// subdirectories cannot collide with a nested repository's name.
type Store struct {
	dir string
	// mu orders changes of tags and manifest links against removals, which
	// delete the blobs no manifest references any more.
	mu sync.Mutex

	upMu    sync.Mutex
	uploads map[string]*upload
}

// Open opens (creating) the store in dir. Uploads a previous process left
// unfinished are discarded.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(abs, "tmp")); err != nil {
		return nil, fmt.Errorf("registry store %s: %w", abs, err)
	}
	for _, d := range []string{"blobs/sha256", "repos", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("registry store %s: %w", abs, err)
		}
	}
	return &Store{dir: abs, uploads: map[string]*upload{}}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobPath(d v1.Hash) string {
	return filepath.Join(s.dir, "blobs", d.Algorithm, d.Hex)
}

func (s *Store) repoDir(repo string) string {
	return filepath.Join(s.dir, "repos", filepath.FromSlash(repo))
}

// StatBlob is the size of the blob d.
func (s *Store) StatBlob(d v1.Hash) (int64, error) {
	fi, err := os.Stat(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s: %w", d, ErrBlobUnknown)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// OpenBlob opens the blob d for reading.
func (s *Store) OpenBlob(d v1.Hash) (*os.File, error) {
	f, err := os.Open(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", d, ErrBlobUnknown)
	}
	return f, err
}

// tempFile is a new file under tmp/ that becomes a blob once verified.
func (s *Store) tempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-")
}

// PutBlob stores what r yields. When want is set, the content must hash to
// it (ErrDigestInvalid otherwise, and nothing is stored). created says
// whether the blob was new.
func (s *Store) PutBlob(r io.Reader, want *v1.Hash) (d v1.Hash, size int64, created bool, err error) {
	f, err := s.tempFile()
	if err != nil {
		return d, 0, false, err
	}
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return d, 0, false, err
	}
	created, d, err = s.commitTemp(f, h, want)
	return d, size, created, err
}

// commitTemp verifies the written temporary file f (whose content hashed
// into h) and renames it into blobs/. It closes f and removes it on failure.
func (s *Store) commitTemp(f *os.File, h hash.Hash, want *v1.Hash) (bool, v1.Hash, error) {
	d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	fail := func(err error) (bool, v1.Hash, error) {
		f.Close()
		os.Remove(f.Name())
		return false, d, err
	}
	if want != nil && *want != d {
		return fail(fmt.Errorf("%w: expected %s, content is %s", ErrDigestInvalid, want, d))
	}
	if _, err := os.Stat(s.blobPath(d)); err == nil {
		return fail(nil)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return false, d, err
	}
	if err := os.Rename(f.Name(), s.blobPath(d)); err != nil {
		os.Remove(f.Name())
		return false, d, err
	}
	return true, d, nil
}

// removeBlobs deletes blobs (an import that failed removes what it added).
func (s *Store) removeBlobs(ds []v1.Hash) {
	for _, d := range ds {
		os.Remove(s.blobPath(d))
	}
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so readers see the old content or the new, never a part.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Descriptor is a stored manifest: its media type, digest and size.
type Descriptor struct {
	MediaType string
	Digest    v1.Hash
	Size      int64
}

// manifestDoc is what the store reads from a manifest or an index.
type manifestDoc struct {
	SchemaVersion int    `json:"schemaVersion"`
	MediaType     string `json:"mediaType"`
	Config        *struct {
		Digest v1.Hash `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest    v1.Hash  `json:"digest"`
		MediaType string   `json:"mediaType"`
		URLs      []string `json:"urls"`
	} `json:"layers"`
	Manifests []struct {
		Digest v1.Hash `json:"digest"`
	} `json:"manifests"`
}

func isIndex(mediaType string) bool {
	return mediaType == string(types.OCIImageIndex) || mediaType == string(types.DockerManifestList)
}

// PutManifest stores a manifest in repo under ref (a tag, or the
// manifest's own digest). Every blob it references must be stored already:
// layers and config for an image, the child manifests for an index.
func (s *Store) PutManifest(repo, ref, mediaType string, data []byte) (v1.Hash, error) {
	if !validRepo(repo) {
		return v1.Hash{}, fmt.Errorf("%q: %w", repo, ErrNameInvalid)
	}
	doc, mediaType, err := parseManifest(mediaType, data)
	if err != nil {
		return v1.Hash{}, err
	}
	for _, d := range references(doc, mediaType) {
		if _, err := s.StatBlob(d); err != nil {
			return v1.Hash{}, fmt.Errorf("%w: %s", ErrManifestBlob, d)
		}
	}
	var tag string
	var want *v1.Hash
	if strings.Contains(ref, ":") {
		d, err := parseDigest(ref)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%w: %v", ErrDigestInvalid, err)
		}
		want = &d
	} else if !validTag(ref) {
		return v1.Hash{}, fmt.Errorf("%q: %w", ref, ErrTagInvalid)
	} else {
		tag = ref
	}
	d, _, _, err := s.PutBlob(strings.NewReader(string(data)), want)
	if err != nil {
		return d, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return d, s.link(repo, tag, d, mediaType)
}

// link records manifest d in repo, tagged tag when tag is not empty. The
// caller holds s.mu.
func (s *Store) link(repo, tag string, d v1.Hash, mediaType string) error {
	dir := s.repoDir(repo)
	if err := writeFileAtomic(filepath.Join(dir, "_manifests", d.Algorithm, d.Hex), []byte(mediaType)); err != nil {
		return err
	}
	if tag == "" {
		return nil
	}
	return writeFileAtomic(filepath.Join(dir, "_tags", tag), []byte(d.String()))
}

// parseManifest checks that data is a manifest or an index this registry
// serves and settles its media type (the declared one, else the document's).
func parseManifest(mediaType string, data []byte) (manifestDoc, string, error) {
	var doc manifestDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return doc, "", fmt.Errorf("%w: %v", ErrManifestInvalid, err)
	}
	if i := strings.IndexByte(mediaType, ';'); i >= 0 {
		mediaType = strings.TrimSpace(mediaType[:i])
	}
	if mediaType == "" || mediaType == "application/json" || mediaType == "application/octet-stream" {
		mediaType = doc.MediaType
	}
	if mediaType == "" {
		mediaType = string(types.OCIManifestSchema1)
		if doc.Manifests != nil {
			mediaType = string(types.OCIImageIndex)
		}
	}
	switch mediaType {
	case string(types.OCIManifestSchema1), string(types.DockerManifestSchema2):
		if doc.SchemaVersion != 2 || doc.Config == nil {
			return doc, "", fmt.Errorf("%w: an image manifest needs schemaVersion 2 and a config", ErrManifestInvalid)
		}
	case string(types.OCIImageIndex), string(types.DockerManifestList):
		if doc.SchemaVersion != 2 {
			return doc, "", fmt.Errorf("%w: an index needs schemaVersion 2", ErrManifestInvalid)
		}
	default:
		return doc, "", fmt.Errorf("%w: media type %q is not served", ErrManifestInvalid, mediaType)
	}
	if doc.MediaType != "" && doc.MediaType != mediaType {
		return doc, "", fmt.Errorf("%w: declared as %q but the document says %q", ErrManifestInvalid, mediaType, doc.MediaType)
	}
	return doc, mediaType, nil
}

// references are the digests a manifest needs stored: config and layers
// (foreign layers, which name URLs, excepted), or an index's manifests.
func references(doc manifestDoc, mediaType string) []v1.Hash {
	var out []v1.Hash
	if isIndex(mediaType) {
		for _, m := range doc.Manifests {
			out = append(out, m.Digest)
		}
		return out
	}
	if doc.Config != nil {
		out = append(out, doc.Config.Digest)
	}
	for _, l := range doc.Layers {
		if len(l.URLs) == 0 {
			out = append(out, l.Digest)
		}
	}
	return out
}

// resolve finds ref (a tag or a digest) in repo.
func (s *Store) resolve(repo, ref string) (Descriptor, error) {
	if !validRepo(repo) {
		return Descriptor{}, fmt.Errorf("%q: %w", repo, ErrNameInvalid)
	}
	dir := s.repoDir(repo)
	var d v1.Hash
	if strings.Contains(ref, ":") {
		var err error
		if d, err = parseDigest(ref); err != nil {
			return Descriptor{}, fmt.Errorf("%w: %v", ErrManifestUnknown, err)
		}
	} else {
		if !validTag(ref) {
			return Descriptor{}, fmt.Errorf("%q: %w", ref, ErrTagInvalid)
		}
		b, err := os.ReadFile(filepath.Join(dir, "_tags", ref))
		if errors.Is(err, fs.ErrNotExist) {
			return Descriptor{}, fmt.Errorf("%s:%s: %w", repo, ref, ErrManifestUnknown)
		}
		if err != nil {
			return Descriptor{}, err
		}
		if d, err = parseDigest(strings.TrimSpace(string(b))); err != nil {
			return Descriptor{}, fmt.Errorf("tag %s:%s: %w", repo, ref, err)
		}
	}
	mt, err := os.ReadFile(filepath.Join(dir, "_manifests", d.Algorithm, d.Hex))
	if errors.Is(err, fs.ErrNotExist) {
		return Descriptor{}, fmt.Errorf("%s@%s: %w", repo, d, ErrManifestUnknown)
	}
	if err != nil {
		return Descriptor{}, err
	}
	size, err := s.StatBlob(d)
	if err != nil {
		return Descriptor{}, fmt.Errorf("%s@%s: %w", repo, d, ErrManifestUnknown)
	}
	return Descriptor{MediaType: string(mt), Digest: d, Size: size}, nil
}

// Manifest returns the manifest ref (a tag or a digest) of repo.
func (s *Store) Manifest(repo, ref string) (Descriptor, []byte, error) {
	desc, err := s.resolve(repo, ref)
	if err != nil {
		return desc, nil, err
	}
	b, err := os.ReadFile(s.blobPath(desc.Digest))
	return desc, b, err
}

// Tags lists repo's tags, sorted.
func (s *Store) Tags(repo string) ([]string, error) {
	if !validRepo(repo) {
		return nil, fmt.Errorf("%q: %w", repo, ErrNameInvalid)
	}
	if _, err := os.Stat(filepath.Join(s.repoDir(repo), "_manifests")); err != nil {
		return nil, fmt.Errorf("%s: %w", repo, ErrNameUnknown)
	}
	entries, err := os.ReadDir(filepath.Join(s.repoDir(repo), "_tags"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tags := []string{}
	for _, e := range entries {
		if validTag(e.Name()) {
			tags = append(tags, e.Name())
		}
	}
	sort.Strings(tags)
	return tags, nil
}

// Repositories lists every repository holding a manifest, sorted.
func (s *Store) Repositories() ([]string, error) {
	root := filepath.Join(s.dir, "repos")
	var repos []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			return nil
		}
		if strings.HasPrefix(e.Name(), "_") {
			if e.Name() == "_manifests" {
				if n, _ := os.ReadDir(filepath.Join(p, "sha256")); len(n) > 0 {
					rel, _ := filepath.Rel(root, filepath.Dir(p))
					repos = append(repos, filepath.ToSlash(rel))
				}
			}
			return fs.SkipDir
		}
		return nil
	})
	sort.Strings(repos)
	return repos, err
}
