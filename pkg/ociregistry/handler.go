package ociregistry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Groups whose members may use the registry.
const (
	// GroupAdmins may pull, push and delete (cluster-admin).
	GroupAdmins = "system:masters"
	// GroupNodes may pull: every node agent's containerd.
	GroupNodes = "system:nodes"
)

// Challenge is the WWW-Authenticate value of a 401 under /v2/: registry
// clients know from it that credentials are wanted (here: the cluster's
// client certificates or bearer tokens).
const Challenge = `Basic realm="skiff"`

// maxManifestSize bounds a manifest upload, as registries commonly do.
const maxManifestSize = 4 << 20

// Caller is who sent a request, as the API server authenticated them.
type Caller struct {
	Name   string
	Groups []string
}

// Handler serves the OCI distribution API under /v2/ from a Store.
type Handler struct {
	Store *Store
	// Caller tells who sent the request; false answers 401.
	Caller func(*http.Request) (Caller, bool)
	// Logger receives refused pushes and failures (default discard).
	Logger *slog.Logger
}

// WithChallenge adds the registry's WWW-Authenticate challenge to the 401s
// that next (the API server, which refuses anonymous requests before the
// registry sees them) gives under /v2/.
func WithChallenge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/") || r.URL.Path == "/v2" {
			w = &challengeWriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

type challengeWriter struct{ http.ResponseWriter }

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", Challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

// regError is one error of the distribution spec's error body.
type regError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string][]regError{"errors": {{Code: code, Message: msg}}})
}

// storeError answers err from the store with the spec's code for it.
func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "UNKNOWN"
	switch {
	case errors.Is(err, ErrDigestInvalid):
		status, code = http.StatusBadRequest, "DIGEST_INVALID"
	case errors.Is(err, ErrBlobUnknown):
		status, code = http.StatusNotFound, "BLOB_UNKNOWN"
	case errors.Is(err, ErrManifestBlob):
		status, code = http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN"
	case errors.Is(err, ErrManifestInvalid):
		status, code = http.StatusBadRequest, "MANIFEST_INVALID"
	case errors.Is(err, ErrManifestUnknown):
		status, code = http.StatusNotFound, "MANIFEST_UNKNOWN"
	case errors.Is(err, ErrNameUnknown):
		status, code = http.StatusNotFound, "NAME_UNKNOWN"
	case errors.Is(err, ErrNameInvalid):
		status, code = http.StatusBadRequest, "NAME_INVALID"
	case errors.Is(err, ErrTagInvalid):
		status, code = http.StatusBadRequest, "TAG_INVALID"
	case errors.Is(err, ErrUploadUnknown):
		status, code = http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"
	case errors.Is(err, ErrRangeInvalid):
		status, code = http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID"
	default:
		h.log().Error("registry request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, code, err.Error())
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// route is a parsed request path below /v2/.
type route struct {
	kind string // "ping", "catalog", "tags", "manifest", "blob", "upload"
	repo string
	arg  string // reference, digest or upload ID
}

func parseRoute(p string) (route, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return route{}, false
	}
	switch {
	case rest == "":
		return route{kind: "ping"}, true
	case rest == "_catalog":
		return route{kind: "catalog"}, true
	case rest == ImportPath[len("/v2/"):]:
		return route{kind: "import"}, true
	case strings.HasSuffix(rest, "/tags/list"):
		return route{kind: "tags", repo: strings.TrimSuffix(rest, "/tags/list")}, true
	}
	for _, k := range []struct{ sep, kind string }{
		{"/blobs/uploads/", "upload"}, {"/manifests/", "manifest"}, {"/blobs/", "blob"},
	} {
		if i := strings.LastIndex(rest, k.sep); i > 0 {
			arg := rest[i+len(k.sep):]
			if strings.Contains(arg, "/") {
				continue
			}
			return route{kind: k.kind, repo: rest[:i], arg: arg}, true
		}
	}
	return route{}, false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such registry endpoint: "+r.URL.Path)
		return
	}
	caller, ok := Caller{}, false
	if h.Caller != nil {
		caller, ok = h.Caller(r)
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", Challenge)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if !allowed(caller, write) {
		what := "pull from"
		if write {
			what = "push to or delete from"
		}
		h.log().Info("registry request denied", "user", caller.Name, "method", r.Method, "path", r.URL.Path)
		writeError(w, http.StatusForbidden, "DENIED", fmt.Sprintf("user %q may not %s the cluster registry", caller.Name, what))
		return
	}
	if rt.repo != "" && !validRepo(rt.repo) {
		writeError(w, http.StatusBadRequest, "NAME_INVALID", fmt.Sprintf("invalid repository name %q", rt.repo))
		return
	}
	switch rt.kind {
	case "ping":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	case "catalog":
		h.catalog(w, r)
	case "tags":
		h.tags(w, r, rt.repo)
	case "manifest":
		h.manifest(w, r, rt)
	case "blob":
		h.blob(w, r, rt)
	case "upload":
		h.upload(w, r, rt)
	case "import":
		h.importTarball(w, r)
	}
}

// ImportPath is Skiff's own endpoint beside the distribution API: POST an
// image tarball (docker-archive or OCI layout) and the registry imports it
// with Import, answering {"images": [...]} with the names stored. Tarballs
// carry no registry manifests, so pushing them image by image would mean
// rebuilding (and recompressing) every image on the client.
const ImportPath = "/v2/_skiff/import"

func (h *Handler) importTarball(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r)
		return
	}
	f, err := os.CreateTemp(filepath.Join(h.Store.dir, "tmp"), "import-*.tar")
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, r.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "receiving the tarball: "+err.Error())
		return
	}
	file := r.URL.Query().Get("file")
	if file == "" {
		file = "the tarball"
	}
	refs, err := importFile(r.Context(), h.Store, f.Name(), nil)
	if err != nil {
		writeError(w, http.StatusBadRequest, "IMPORT_INVALID", fmt.Sprintf("importing %s: %v", file, err))
		return
	}
	h.log().Info("images imported", "file", file, "images", refs)
	writeJSON(w, map[string][]string{"images": refs})
}

// allowed is the registry's policy: cluster admins do anything, nodes pull.
func allowed(c Caller, write bool) bool {
	if slices.Contains(c.Groups, GroupAdmins) {
		return true
	}
	return !write && slices.Contains(c.Groups, GroupNodes)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", r.Method+" is not supported here")
}

// page applies the n and last query parameters of the catalog and tag lists
// and sets the Link header to the next page.
func page(w http.ResponseWriter, r *http.Request, all []string) []string {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(all, last)
		for i < len(all) && all[i] <= last {
			i++
		}
		all = all[i:]
	}
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n >= 0 && n < len(all) {
		all = all[:n]
		if n > 0 {
			next := url.Values{"n": {strconv.Itoa(n)}, "last": {all[n-1]}}
			w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
		}
	}
	return all
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	repos, err := h.Store.Repositories()
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	writeJSON(w, map[string][]string{"repositories": page(w, r, repos)})
}

func (h *Handler) tags(w http.ResponseWriter, r *http.Request, repo string) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	tags, err := h.Store.Tags(repo)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	writeJSON(w, map[string]any{"name": repo, "tags": page(w, r, tags)})
}

func (h *Handler) manifest(w http.ResponseWriter, r *http.Request, rt route) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		var desc Descriptor
		var data []byte
		var err error
		for _, repo := range mirrorCandidates(rt.repo, r.URL.Query().Get("ns")) {
			if desc, data, err = h.Store.Manifest(repo, rt.arg); !errNotFound(err) {
				break
			}
		}
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", desc.MediaType)
		w.Header().Set("Docker-Content-Digest", desc.Digest.String())
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(data)
		}
	case http.MethodPut:
		data, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		if len(data) > maxManifestSize {
			writeError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", "manifest larger than 4 MiB")
			return
		}
		d, err := h.Store.PutManifest(rt.repo, rt.arg, r.Header.Get("Content-Type"), data)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		w.Header().Set("Location", "/v2/"+rt.repo+"/manifests/"+d.String())
		w.Header().Set("Docker-Content-Digest", d.String())
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		if err := h.Store.Remove(rt.repo, rt.arg); err != nil {
			h.storeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		methodNotAllowed(w, r)
	}
}

func (h *Handler) blob(w http.ResponseWriter, r *http.Request, rt route) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r)
		return
	}
	d, err := parseDigest(rt.arg)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", err.Error())
		return
	}
	// Blobs are shared by every repository: content addressing makes the
	// digest the whole name.
	f, err := h.Store.OpenBlob(d)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Cache-Control", "max-age=31536000")
	w.Header().Set("Etag", `"`+d.String()+`"`)
	http.ServeContent(w, r, "", time.Time{}, f)
}

func (h *Handler) upload(w http.ResponseWriter, r *http.Request, rt route) {
	accepted := func(id string, size int64) {
		w.Header().Set("Location", "/v2/"+rt.repo+"/blobs/uploads/"+id)
		w.Header().Set("Docker-Upload-UUID", id)
		end := size - 1
		if end < 0 {
			end = 0
		}
		w.Header().Set("Range", fmt.Sprintf("0-%d", end))
		w.Header().Set("Content-Length", "0")
	}
	created := func(d v1.Hash) {
		w.Header().Set("Location", "/v2/"+rt.repo+"/blobs/"+d.String())
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && rt.arg == "":
		// A blob another repository holds needs no upload: every
		// repository shares the blob store.
		if m := q.Get("mount"); m != "" {
			if d, err := parseDigest(m); err == nil {
				if _, err := h.Store.StatBlob(d); err == nil {
					created(d)
					return
				}
			}
		}
		if ds := q.Get("digest"); ds != "" {
			want, err := parseDigest(ds)
			if err != nil {
				writeError(w, http.StatusBadRequest, "DIGEST_INVALID", err.Error())
				return
			}
			if _, _, _, err := h.Store.PutBlob(r.Body, &want); err != nil {
				h.storeError(w, r, err)
				return
			}
			created(want)
			return
		}
		id, err := h.Store.StartUpload()
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		accepted(id, 0)
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPatch && rt.arg != "":
		start := int64(-1)
		if cr := r.Header.Get("Content-Range"); cr != "" {
			s, _, _ := strings.Cut(strings.TrimPrefix(cr, "bytes="), "-")
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				writeError(w, http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "bad Content-Range "+cr)
				return
			}
			start = n
		}
		size, err := h.Store.AppendUpload(rt.arg, start, r.Body)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		accepted(rt.arg, size)
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPut && rt.arg != "":
		want, err := parseDigest(q.Get("digest"))
		if err != nil {
			h.Store.CancelUpload(rt.arg)
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID", err.Error())
			return
		}
		if _, err := h.Store.AppendUpload(rt.arg, -1, r.Body); err != nil {
			h.storeError(w, r, err)
			return
		}
		if _, err := h.Store.FinishUpload(rt.arg, want); err != nil {
			h.storeError(w, r, err)
			return
		}
		created(want)
	case r.Method == http.MethodGet && rt.arg != "":
		size, err := h.Store.UploadSize(rt.arg)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		accepted(rt.arg, size)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && rt.arg != "":
		if _, err := h.Store.UploadSize(rt.arg); err != nil {
			h.storeError(w, r, err)
			return
		}
		h.Store.CancelUpload(rt.arg)
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}
