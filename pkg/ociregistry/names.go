package ociregistry

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var (
	// pathComponent is a repository path component of the distribution
	// spec; the first one may also be a registry host with a port, which is
	// how imported images keep the registry they name ("localhost:5000/x").
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	hostComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

// validRepo reports whether repo is a repository name this store accepts.
func validRepo(repo string) bool {
	if repo == "" || len(repo) > 255 {
		return false
	}
	for i, c := range strings.Split(repo, "/") {
		if i == 0 && hostComponent.MatchString(c) || pathComponent.MatchString(c) {
			continue
		}
		return false
	}
	return true
}

func validTag(tag string) bool { return tagPattern.MatchString(tag) }

// parseDigest accepts "sha256:<64 hex>", the only algorithm stored.
func parseDigest(s string) (v1.Hash, error) {
	h, err := v1.NewHash(s)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("digest %q: %w", s, err)
	}
	if h.Algorithm != "sha256" {
		return v1.Hash{}, fmt.Errorf("digest %q: only sha256 is supported", s)
	}
	return h, nil
}

// upstreamName is the registry part of a stored repository name for an
// image of registry host: docker.io for Docker Hub under any of its names.
func upstreamName(host string) string {
	switch host {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return host
}

// RepoName is the repository an image reference is stored under: its
// registry (docker.io for Docker Hub) and its path, e.g.
// "docker.io/luksa/kubia" for "luksa/kubia:latest".
func RepoName(ref name.Reference) string {
	return upstreamName(ref.Context().RegistryStr()) + "/" + ref.Context().RepositoryStr()
}

// mirrorCandidates are the stored repositories a pull of repo may mean.
// containerd asks a mirror for "/v2/luksa/kubia/...?ns=docker.io": the image
// imported as docker.io/luksa/kubia comes first, then one pushed as
// luksa/kubia, and for Docker Hub's official images ("library/x") one pushed
// as plain "x".
func mirrorCandidates(repo, ns string) []string {
	if ns == "" {
		return []string{repo}
	}
	up := upstreamName(ns)
	c := []string{up + "/" + repo, repo}
	if up == "docker.io" && strings.HasPrefix(repo, "library/") {
		c = append(c, strings.TrimPrefix(repo, "library/"))
	}
	return c
}
