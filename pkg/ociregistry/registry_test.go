package ociregistry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// testRegistry serves a store over HTTP with bearer tokens standing in for
// the API server's authentication: "admin" is a cluster admin, "node" a node.
type testRegistry struct {
	t     *testing.T
	dir   string
	srv   *httptest.Server
	store *Store
	host  string
}

func callerFromToken(r *http.Request) (Caller, bool) {
	switch strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") {
	case "admin":
		return Caller{Name: "system:admin", Groups: []string{GroupAdmins}}, true
	case "node":
		return Caller{Name: "system:node:n1", Groups: []string{GroupNodes}}, true
	case "someone":
		return Caller{Name: "someone", Groups: []string{"system:authenticated"}}, true
	}
	return Caller{}, false
}

func newTestRegistry(t *testing.T, dir string) *testRegistry {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&Handler{Store: s, Caller: callerFromToken})
	t.Cleanup(srv.Close)
	return &testRegistry{t: t, dir: dir, srv: srv, store: s, host: strings.TrimPrefix(srv.URL, "http://")}
}

func as(token string) crane.Option {
	if token == "" {
		return crane.WithAuth(authn.Anonymous)
	}
	return crane.WithAuth(&authn.Bearer{Token: token})
}

func (r *testRegistry) ref(s string) string { return r.host + "/" + s }

func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

func codeOf(err error) string {
	var te *transport.Error
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return string(te.Errors[0].Code)
	}
	return ""
}

func randomImage(t *testing.T, size int64, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(size, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestPushPullListWithCrane: an admin pushes with crane (chunked and
// monolithic uploads, cross-repository mounts), a node pulls the same bytes
// back by tag and by digest, and the tag and catalog lists name them.
func TestPushPullListWithCrane(t *testing.T) {
	r := newTestRegistry(t, t.TempDir())
	img := randomImage(t, 300_000, 3)
	for _, ref := range []string{"team/app:v1", "team/app:v2", "other/app:latest"} {
		if err := crane.Push(img, r.ref(ref), as("admin"), crane.Insecure); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}
	pulled, err := crane.Pull(r.ref("team/app:v1"), as("node"), crane.Insecure)
	if err != nil {
		t.Fatalf("node pull: %v", err)
	}
	if got, want := digestOf(t, pulled), digestOf(t, img); got != want {
		t.Fatalf("pulled digest %s, pushed %s", got, want)
	}
	layers, _ := pulled.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatalf("reading a pulled layer: %v", err)
		}
		rc.Close()
		want, _ := l.Digest()
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
			t.Fatalf("layer bytes hash to %s, want %s", got, want)
		}
	}
	if _, err := crane.Pull(r.ref("team/app@"+digestOf(t, img)), as("node"), crane.Insecure); err != nil {
		t.Fatalf("pull by digest: %v", err)
	}
	tags, err := crane.ListTags(r.ref("team/app"), as("node"), crane.Insecure)
	if err != nil || !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Fatalf("tags = %v, %v; want [v1 v2]", tags, err)
	}
	repos, err := crane.Catalog(r.host, as("node"), crane.Insecure)
	if err != nil || !slices.Equal(repos, []string{"other/app", "team/app"}) {
		t.Fatalf("catalog = %v, %v", repos, err)
	}
	if _, err := crane.Pull(r.ref("team/app:nope"), as("node"), crane.Insecure); statusOf(err) != 404 || codeOf(err) != "MANIFEST_UNKNOWN" {
		t.Fatalf("pull of a missing tag: %v, want 404 MANIFEST_UNKNOWN", err)
	}
}

// TestAuthorization: anonymous callers get 401 with a challenge, nodes may
// pull but not push or delete, other users may do neither.
func TestAuthorization(t *testing.T) {
	r := newTestRegistry(t, t.TempDir())
	img := randomImage(t, 1000, 1)
	if err := crane.Push(img, r.ref("x/y:1"), as("node"), crane.Insecure); statusOf(err) != 403 {
		t.Fatalf("node push: %v, want 403", err)
	}
	if err := crane.Push(img, r.ref("x/y:1"), as("admin"), crane.Insecure); err != nil {
		t.Fatal(err)
	}
	if _, err := crane.Pull(r.ref("x/y:1"), as(""), crane.Insecure); statusOf(err) != 401 {
		t.Fatalf("anonymous pull: %v, want 401", err)
	}
	if _, err := crane.Pull(r.ref("x/y:1"), as("someone"), crane.Insecure); statusOf(err) != 403 {
		t.Fatalf("pull by a user in neither group: %v, want 403", err)
	}
	if err := crane.Delete(r.ref("x/y:1"), as("node"), crane.Insecure); statusOf(err) != 403 {
		t.Fatalf("node delete: %v, want 403", err)
	}
	resp, err := http.Get(r.srv.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous ping: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestDigestMismatchRefused: a monolithic upload and a chunked one whose
// bytes do not hash to the digest the client names are refused with
// DIGEST_INVALID, and nothing is stored.
func TestDigestMismatchRefused(t *testing.T) {
	r := newTestRegistry(t, t.TempDir())
	content := []byte("the real content")
	lie := sha256.Sum256([]byte("something else"))
	lieDigest := "sha256:" + hex.EncodeToString(lie[:])
	do := func(method, url string, body []byte) *http.Response {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	expectInvalid := func(resp *http.Response) {
		t.Helper()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"DIGEST_INVALID"`) {
			t.Fatalf("got %d %s, want 400 DIGEST_INVALID", resp.StatusCode, b)
		}
	}
	expectInvalid(do("POST", r.srv.URL+"/v2/a/b/blobs/uploads/?digest="+lieDigest, content))

	resp := do("POST", r.srv.URL+"/v2/a/b/blobs/uploads/", nil)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 202 || loc == "" {
		t.Fatalf("start upload: %d %q", resp.StatusCode, loc)
	}
	resp = do("PATCH", r.srv.URL+loc, content)
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("Range") != "0-15" {
		t.Fatalf("patch: %d range %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	expectInvalid(do("PUT", r.srv.URL+loc+"?digest="+lieDigest, nil))

	blobs, _ := os.ReadDir(filepath.Join(r.dir, "blobs", "sha256"))
	tmp, _ := os.ReadDir(filepath.Join(r.dir, "tmp"))
	if len(blobs)+len(tmp) != 0 {
		t.Fatalf("a refused upload left %d blobs and %d temporary files", len(blobs), len(tmp))
	}
	if resp := do("HEAD", r.srv.URL+"/v2/a/b/blobs/"+lieDigest, nil); resp.StatusCode != 404 {
		t.Fatalf("HEAD of the refused digest: %d", resp.StatusCode)
	}
	// A manifest whose blobs are unknown is refused too.
	resp = do("PUT", r.srv.URL+"/v2/a/b/manifests/v1", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"`+lieDigest+`","size":3},"layers":[]}`))
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "MANIFEST_BLOB_UNKNOWN") {
		t.Fatalf("manifest with unknown blobs: %d %s", resp.StatusCode, b)
	}
}

// TestRestartKeepsContent: a new store on the same directory (a restarted
// server) serves the same tags and bytes.
func TestRestartKeepsContent(t *testing.T) {
	dir := t.TempDir()
	r := newTestRegistry(t, dir)
	img := randomImage(t, 50_000, 2)
	if err := crane.Push(img, r.ref("keep/me:v1"), as("admin"), crane.Insecure); err != nil {
		t.Fatal(err)
	}
	r.srv.Close()
	r2 := newTestRegistry(t, dir)
	pulled, err := crane.Pull(r2.ref("keep/me:v1"), as("node"), crane.Insecure)
	if err != nil {
		t.Fatalf("pull after restart: %v", err)
	}
	if digestOf(t, pulled) != digestOf(t, img) {
		t.Fatal("digest changed across the restart")
	}
	if _, err := pulled.RawConfigFile(); err != nil {
		t.Fatal(err)
	}
}

// TestMirrorNamespace: containerd asks a mirror for "/v2/luksa/kubia/...?ns=docker.io";
// the image imported as docker.io/luksa/kubia answers, and so does one
// pushed as plain "hello" for docker.io/library/hello.
func TestMirrorNamespace(t *testing.T) {
	r := newTestRegistry(t, t.TempDir())
	img := randomImage(t, 1000, 1)
	for _, ref := range []string{"docker.io/luksa/kubia:latest", "hello:v1"} {
		if err := crane.Push(img, r.ref(ref), as("admin"), crane.Insecure); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/v2/luksa/kubia/manifests/latest?ns=docker.io", "/v2/library/hello/manifests/v1?ns=docker.io", "/v2/hello/manifests/v1"} {
		req, _ := http.NewRequest("HEAD", r.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer node")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") != digestOf(t, img) {
			t.Errorf("HEAD %s: %d digest %q", path, resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
		}
	}
	req, _ := http.NewRequest("HEAD", r.srv.URL+"/v2/luksa/kubia/manifests/latest?ns=ghcr.io", nil)
	req.Header.Set("Authorization", "Bearer node")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 404 {
		t.Errorf("ghcr.io/luksa/kubia answered %d; only docker.io's was stored", resp.StatusCode)
	}
}

// TestRemove: removing a tag keeps a manifest another tag names; removing
// the last one deletes the blobs no other image uses, and keeps shared ones.
func TestRemove(t *testing.T) {
	r := newTestRegistry(t, t.TempDir())
	a := randomImage(t, 2000, 2)
	b := randomImage(t, 2000, 2)
	for ref, img := range map[string]v1.Image{"r/a:1": a, "r/a:2": a, "r/b:1": b, "r/c:1": b} {
		if err := crane.Push(img, r.ref(ref), as("admin"), crane.Insecure); err != nil {
			t.Fatal(err)
		}
	}
	countBlobs := func() int {
		e, _ := os.ReadDir(filepath.Join(r.dir, "blobs", "sha256"))
		return len(e)
	}
	all := countBlobs() // 2 images x (manifest + config + 2 layers)
	if err := crane.Delete(r.ref("r/a:1"), as("admin"), crane.Insecure); err != nil {
		t.Fatal(err)
	}
	if _, err := crane.Pull(r.ref("r/a:2"), as("node"), crane.Insecure); err != nil || countBlobs() != all {
		t.Fatalf("after removing one of two tags: %v, %d blobs of %d", err, countBlobs(), all)
	}
	if err := crane.Delete(r.ref("r/a:2"), as("admin"), crane.Insecure); err != nil {
		t.Fatal(err)
	}
	if countBlobs() != all-4 {
		t.Fatalf("after removing image a: %d blobs, want %d", countBlobs(), all-4)
	}
	if err := r.store.Remove("r/b", "1"); err != nil {
		t.Fatal(err)
	}
	if countBlobs() != all-4 {
		t.Fatalf("removing r/b:1 deleted blobs r/c:1 still uses")
	}
	imgs, err := r.store.List()
	if err != nil || len(imgs) != 1 || imgs[0].Ref() != "r/c:1" {
		t.Fatalf("List = %+v, %v", imgs, err)
	}
	repos, _ := crane.Catalog(r.host, as("node"), crane.Insecure)
	if !slices.Equal(repos, []string{"r/c"}) {
		t.Fatalf("catalog after removals: %v", repos)
	}
	if _, err := name.ParseReference(r.ref("r/c:1")); err != nil {
		t.Fatal(err)
	}
}
