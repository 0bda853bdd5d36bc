package ociregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Client works with a cluster registry from outside the server, with the
// credentials of a kubeconfig (`skiff image import`, `ls`, `rm`).
type Client struct {
	// Registry is the server's "HOST:PORT".
	Registry string
	// Transport carries the TLS configuration (cluster CA, client
	// certificate); Auth adds a bearer token when the kubeconfig has one.
	Transport http.RoundTripper
	Auth      authn.Authenticator
}

func (c *Client) options(ctx context.Context) []remote.Option {
	auth := c.Auth
	if auth == nil {
		auth = authn.Anonymous
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithTransport(c.Transport), remote.WithAuth(auth)}
}

// Import sends the tarball at file to the registry, which stores its
// images; progress hears how much of the file was sent.
func (c *Client) Import(ctx context.Context, file string, progress Progress) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var body io.Reader = f
	if progress != nil {
		body = &progressReader{r: f, total: fi.Size(), progress: progress}
	}
	u := "https://" + c.Registry + ImportPath + "?" + url.Values{"file": {filepath.Base(file)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/x-tar")
	if c.Auth != nil {
		if a, err := c.Auth.Authorization(); err == nil && a.RegistryToken != "" {
			req.Header.Set("Authorization", "Bearer "+a.RegistryToken)
		}
	}
	resp, err := (&http.Client{Transport: c.Transport}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("sending %s to %s: %w", file, c.Registry, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Errors []regError `json:"errors"`
			// A 401 or 403 from the API server is a metav1.Status.
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil {
			if len(e.Errors) > 0 {
				msg = e.Errors[0].Message
			} else if e.Message != "" {
				msg = e.Message
			}
		}
		return nil, fmt.Errorf("importing %s: %s (HTTP %d)", file, msg, resp.StatusCode)
	}
	var out struct{ Images []string }
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("importing %s: unexpected answer %q", file, b)
	}
	return out.Images, nil
}

type progressReader struct {
	r           io.Reader
	done, total int64
	progress    Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.progress(p.done, p.total)
	return n, err
}

// List lists every tagged image of the registry.
func (c *Client) List(ctx context.Context) ([]Image, error) {
	reg, err := name.NewRegistry(c.Registry)
	if err != nil {
		return nil, err
	}
	repos, err := remote.Catalog(ctx, reg, c.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("listing the registry's repositories: %w", err)
	}
	var out []Image
	for _, r := range repos {
		repo, err := name.NewRepository(c.Registry + "/" + r)
		if err != nil {
			return nil, err
		}
		tags, err := remote.List(repo, c.options(ctx)...)
		if err != nil {
			return nil, fmt.Errorf("listing the tags of %s: %w", r, err)
		}
		for _, t := range tags {
			img := Image{Repo: r, Tag: t}
			desc, err := remote.Get(repo.Tag(t), c.options(ctx)...)
			if err != nil {
				continue // removed meanwhile
			}
			img.Digest, img.MediaType, img.Size = desc.Digest, string(desc.MediaType), desc.Size
			if m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest))); err == nil && !desc.MediaType.IsIndex() {
				img.Size += m.Config.Size
				for _, l := range m.Layers {
					img.Size += l.Size
				}
			}
			out = append(out, img)
		}
	}
	return out, nil
}

// Remove deletes the image ref names: the one imported under that name
// ("luksa/kubia" is docker.io/luksa/kubia:latest), else one pushed under its
// path.
func (c *Client) Remove(ctx context.Context, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	for _, repo := range mirrorCandidates(r.Context().RepositoryStr(), r.Context().RegistryStr()) {
		target, err := name.ParseReference(c.Registry + "/" + repo + refSeparator(r) + r.Identifier())
		if err != nil {
			continue // a registry host with a port is no path component here
		}
		err = remote.Delete(target, c.options(ctx)...)
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("removing %s: %w", ref, err)
		}
		return repo + refSeparator(r) + r.Identifier(), nil
	}
	return "", fmt.Errorf("removing %s: no such image in the cluster registry", ref)
}

func refSeparator(r name.Reference) string {
	if _, ok := r.(name.Digest); ok {
		return "@"
	}
	return ":"
}
