// Package dashboard is Skiff's web dashboard: pages embedded in the binary,
// and a pass-through to the API that acts as the user the API server
// authenticated for the request that reached the dashboard. It is served in
// the API server's process, behind the services/proxy of the
// kube-system/kubernetes-dashboard Service, so it holds no credentials and no
// state of its own: while nobody has it open it costs nothing but the bytes of
// its files in the binary.
//
// The pages are plain JavaScript modules with no build step (see
// static/index.html): a dashboard that needs nothing but the Go toolchain to
// build, and no toolkit to keep up to date.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// Namespace, Name and PortName are the Service the dashboard is reached through,
// with upstream's label for what `kubectl cluster-info` lists.
const (
	Namespace = "kube-system"
	Name      = "kubernetes-dashboard"
	PortName  = "https"
)

// APIHeader must be on every request the pages make to the API through the
// dashboard. A page of another origin cannot set it without the browser
// asking first (CORS), which nobody answers: so another site cannot make a
// signed-in user's browser change the cluster.
const APIHeader = "X-Skiff-Dashboard"

//go:embed static
var static embed.FS

// API serves a request as a user; *apiserver.Server is one.
type API interface {
	ServeAs(w http.ResponseWriter, r *http.Request, user apiserver.User)
}

// Handler serves the dashboard. Its paths are relative to the proxy root.
type Handler struct {
	api     API
	files   http.Handler
	etags   map[string]string // "/path" -> quoted content hash
	tickets tickets           // the terminals' (terminal.go)
}

// New returns the dashboard served over api.
func New(api API) *Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	h := &Handler{api: api, files: http.FileServerFS(sub), etags: map[string]string{}, tickets: tickets{byID: map[string]ticket{}}}
	_ = fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		h.etags["/"+path] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	h.etags["/"] = h.etags["/index.html"]
	return h
}

// ServeHTTP serves the pages, "whoami", the API under "k8s/", and terminals
// ("term-token", "term").
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	user, ok := apiserver.UserFrom(r.Context())
	if !ok {
		writeStatus(w, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	path := r.URL.Path
	switch {
	case path == "/term":
		// A WebSocket cannot carry the header: its ticket stands for it.
		h.serveTerminal(w, r, user)
	case path == "/whoami" || path == "/term-token" || strings.HasPrefix(path, "/k8s/"):
		if r.Header.Get(APIHeader) == "" {
			writeStatus(w, status(http.StatusForbidden, metav1.StatusReasonForbidden,
				"the dashboard's API answers its own pages only: a request needs the "+APIHeader+" header"))
			return
		}
		switch path {
		case "/whoami":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": user.Name, "groups": user.Groups})
		case "/term-token":
			h.serveTicket(w, r, user)
		default:
			h.serveAPI(w, r, user)
		}
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		writeStatus(w, status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			"the dashboard's pages are read with GET"))
	default:
		h.serveFile(w, r)
	}
}

// serveAPI passes a request under k8s/ to the API as the user.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, user apiserver.User) {
	in := r.Clone(r.Context())
	in.URL.Path = strings.TrimPrefix(r.URL.Path, "/k8s")
	in.URL.RawPath = ""
	in.RequestURI = in.URL.RequestURI()
	// The user is who the API server said; nothing the page sends changes it.
	in.Header.Del("Authorization")
	in.Header.Del("Cookie")
	in.Header.Del(APIHeader)
	h.api.ServeAs(w, in, user)
}

// serveFile serves an embedded file; a page that has not changed since the
// browser fetched it is not sent again.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	etag, ok := h.etags[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.files.ServeHTTP(w, r)
}

func status(code int32, reason metav1.StatusReason, message string) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: code, Reason: reason, Message: message,
	}}
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}
