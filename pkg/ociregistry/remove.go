package ociregistry

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is one tag of a stored repository.
type Image struct {
	Repo, Tag string
	Digest    v1.Hash
	MediaType string
	// Size is the manifest's, its config's and its layers' (for an index:
	// every stored platform's) sizes added up.
	Size int64
}

// Ref is the image's reference, "repo:tag".
func (i Image) Ref() string { return i.Repo + ":" + i.Tag }

// List lists every tag of every repository.
func (s *Store) List() ([]Image, error) {
	repos, err := s.Repositories()
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, repo := range repos {
		tags, err := s.Tags(repo)
		if err != nil {
			return nil, err
		}
		for _, tag := range tags {
			desc, err := s.resolve(repo, tag)
			if err != nil {
				continue // removed meanwhile
			}
			size := int64(0)
			for d := range s.closure(desc.Digest, desc.MediaType) {
				if n, err := s.StatBlob(d); err == nil {
					size += n
				}
			}
			out = append(out, Image{Repo: repo, Tag: tag, Digest: desc.Digest, MediaType: desc.MediaType, Size: size})
		}
	}
	return out, nil
}

// Remove deletes ref ("repo:tag" or "repo@sha256:...") from repo: the tag,
// or the manifest with every tag naming it. A manifest no tag of repo names
// any more leaves the repository, and the blobs that only it used are
// deleted.
func (s *Store) Remove(repo, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	desc, err := s.resolve(repo, ref)
	if err != nil {
		return err
	}
	dir := s.repoDir(repo)
	tags, _ := os.ReadDir(filepath.Join(dir, "_tags"))
	stillTagged := false
	for _, t := range tags {
		p := filepath.Join(dir, "_tags", t.Name())
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) != desc.Digest.String() {
			continue
		}
		if strings.Contains(ref, ":") || t.Name() == ref {
			if err := os.Remove(p); err != nil {
				return err
			}
		} else {
			stillTagged = true
		}
	}
	if stillTagged {
		return nil
	}
	dead := s.closure(desc.Digest, desc.MediaType)
	live := map[v1.Hash]bool{}
	for d := range s.rootsOf(repo, dead) {
		for x := range s.closure(d.Digest, d.MediaType) {
			live[x] = true
		}
	}
	// The manifest links of this repository that were only reachable
	// through the removed manifest (an index's platforms) go with it.
	for d := range dead {
		if !live[d] {
			os.Remove(filepath.Join(dir, "_manifests", d.Algorithm, d.Hex))
		}
	}
	// Another repository may still hold the same manifest or share layers.
	live = map[v1.Hash]bool{}
	for _, r := range mustRepos(s) {
		for d := range s.rootsOf(r, nil) {
			for x := range s.closure(d.Digest, d.MediaType) {
				live[x] = true
			}
		}
	}
	for d := range dead {
		if !live[d] {
			os.Remove(s.blobPath(d))
		}
	}
	s.pruneRepo(dir)
	return nil
}

func mustRepos(s *Store) []string {
	r, _ := s.Repositories()
	return r
}

// rootsOf are repo's manifests that keep content alive: every tagged one,
// and every linked one not in except (the content being removed).
func (s *Store) rootsOf(repo string, except map[v1.Hash]bool) map[Descriptor]bool {
	out := map[Descriptor]bool{}
	dir := s.repoDir(repo)
	tags, _ := os.ReadDir(filepath.Join(dir, "_tags"))
	for _, t := range tags {
		if d, err := s.resolve(repo, t.Name()); err == nil {
			out[d] = true
		}
	}
	links, _ := os.ReadDir(filepath.Join(dir, "_manifests", "sha256"))
	for _, l := range links {
		d := v1.Hash{Algorithm: "sha256", Hex: l.Name()}
		if except[d] {
			continue
		}
		if desc, err := s.resolve(repo, d.String()); err == nil {
			out[desc] = true
		}
	}
	return out
}

// closure is manifest d and everything it references, recursively.
func (s *Store) closure(d v1.Hash, mediaType string) map[v1.Hash]bool {
	out := map[v1.Hash]bool{d: true}
	b, err := os.ReadFile(s.blobPath(d))
	if err != nil {
		return out
	}
	doc, mt, err := parseManifest(mediaType, b)
	if err != nil {
		return out
	}
	if isIndex(mt) {
		for _, m := range doc.Manifests {
			for x := range s.closure(m.Digest, "") {
				out[x] = true
			}
		}
		return out
	}
	for _, x := range references(doc, mt) {
		out[x] = true
	}
	return out
}

// pruneRepo removes the directories of a repository left with no manifest.
func (s *Store) pruneRepo(dir string) {
	root := filepath.Join(s.dir, "repos")
	if n, _ := os.ReadDir(filepath.Join(dir, "_manifests", "sha256")); len(n) > 0 {
		return
	}
	if n, _ := os.ReadDir(filepath.Join(dir, "_tags")); len(n) > 0 {
		return
	}
	_ = os.RemoveAll(filepath.Join(dir, "_manifests"))
	_ = os.RemoveAll(filepath.Join(dir, "_tags"))
	for d := dir; d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if err := os.Remove(d); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return // not empty: a nested repository
			}
		}
	}
}

// errNotFound tells whether err means the thing asked for does not exist.
func errNotFound(err error) bool {
	return errors.Is(err, ErrManifestUnknown) || errors.Is(err, ErrBlobUnknown) || errors.Is(err, ErrNameUnknown)
}
