package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
)

// request is a parsed API path.
type request struct {
	res         *Resource
	namespace   string
	name        string
	subresource string
	watch       bool       // legacy /watch/ path or ?watch=true
	part        *Part      // what a write through a part subresource changes
	output      outputKind // the answer the Accept header asked for
}

// namespaceSubresources are the paths below /namespaces/NAME that are not a
// namespaced collection.
var namespaceSubresources = sets.New("status", "finalize")

// serveAPI parses /api/v1/... and /apis/G/V/..., authorizes the request on
// what its path names (before finding out whether that exists, as upstream),
// and dispatches on the verb.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.ready:
	default:
		// Upstream's watch cache answers so while it loads: clients retry
		// (an informer resumes its watch rather than listing again).
		writeError(w, apierrors.NewTooManyRequests("storage is (re)initializing", 1))
		return
	}
	user, _ := UserFrom(r.Context())
	path := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(path, "/")
	core := parts[0] == "api"
	parts = parts[1:]
	gvParts := 2
	if core {
		gvParts = 1
	}
	if len(parts) <= gvParts {
		// Discovery of a group or version.
		if err := s.authorize(pathAttributes(r, user)); err != nil {
			writeError(w, err)
			return
		}
		s.serveGroupDiscovery(w, parts, core)
		return
	}
	gv, parts := strings.Join(parts[:gvParts], "/"), parts[gvParts:]
	group := ""
	if !core {
		group = strings.SplitN(gv, "/", 2)[0]
	}
	req := request{}
	if parts[0] == "watch" {
		req.watch = true
		parts = parts[1:]
	}
	if len(parts) == 0 {
		writeError(w, notFound())
		return
	}
	if parts[0] == "namespaces" && len(parts) > 2 && !namespaceSubresources.Has(parts[2]) {
		req.namespace = parts[1]
		parts = parts[2:]
	}
	resource := parts[0]
	if len(parts) > 1 {
		req.name = parts[1]
	}
	if len(parts) > 2 {
		req.subresource = strings.Join(parts[2:], "/")
	}
	if r.URL.RawQuery != "" && queryBool(r.URL.Query(), "watch") {
		req.watch = true
	}
	// Authorized as named, whether or not it exists: the registry's answer is
	// only for those allowed to ask.
	attrs := resourceAttributes(r, user, group, resource, req)
	if resource == "namespaces" && req.namespace == "" {
		attrs.namespace = req.name // a namespace is in itself, as upstream's RequestInfo has it
	}
	if err := s.authorize(attrs); err != nil {
		writeError(w, err)
		return
	}
	req.res = s.reg.Lookup(gv, resource)
	switch {
	case req.res == nil,
		req.res.Namespaced && req.name != "" && req.namespace == "" && req.res.Name != "namespaces",
		!req.res.Namespaced && req.namespace != "",
		req.subresource != "" && !req.res.hasSubresource(strings.SplitN(req.subresource, "/", 2)[0]):
		writeError(w, notFound())
		return
	}
	if req.res.Name == "namespaces" && req.name != "" {
		// /api/v1/namespaces/NAME addresses the namespace itself.
		req.namespace = ""
	}
	var ok bool
	if req.output, ok = acceptable(r, req); !ok {
		writeError(w, notAcceptable())
		return
	}
	s.dispatch(w, r, req)
}

// connectSubresources answer in their own media types (logs, streams,
// proxied bodies), whatever the Accept header says.
var connectSubresources = sets.New("log", "exec", "attach", "portforward", "proxy")

// acceptable returns the answer the request's Accept header asks for, and
// whether its endpoint gives it: tables come from the kind and the views of
// its objects.
func acceptable(r *http.Request, req request) (outputKind, bool) {
	sub := strings.SplitN(req.subresource, "/", 2)[0]
	if connectSubresources.Has(sub) {
		return outputObject, true
	}
	objectView := sub == "" || sub == "status"
	if sr := req.res.subresource(sub); sr != nil && sr.Part != nil {
		objectView = true
	}
	return negotiateAccept(r.Header.Get("Accept"), objectView && req.res.Cells != nil)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, req request) {
	if req.res.Review != nil {
		s.serveReview(w, r, req)
		return
	}
	if req.subresource != "" {
		s.serveSubresource(w, r, req)
		return
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case req.watch:
			s.serveWatch(w, r, req)
		case req.name == "":
			s.serveList(w, r, req)
		default:
			s.serveGet(w, r, req)
		}
	case http.MethodPost:
		if req.name != "" {
			writeError(w, methodNotSupported(r, req))
			return
		}
		s.serveCreate(w, r, req)
	case http.MethodPut:
		if req.name == "" {
			writeError(w, methodNotSupported(r, req))
			return
		}
		s.serveUpdate(w, r, req, writeMain)
	case http.MethodPatch:
		if req.name == "" {
			writeError(w, methodNotSupported(r, req))
			return
		}
		s.servePatch(w, r, req, writeMain)
	case http.MethodDelete:
		if req.name == "" {
			s.serveDeleteCollection(w, r, req)
			return
		}
		s.serveDelete(w, r, req)
	default:
		writeError(w, methodNotSupported(r, req))
	}
}

func methodNotSupported(r *http.Request, req request) error {
	return apierrors.NewMethodNotSupported(req.res.groupResource(), strings.ToLower(r.Method))
}

func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, req request) {
	sub := strings.SplitN(req.subresource, "/", 2)[0]
	switch sub {
	case "status":
		s.serveWholeObject(w, r, req, writeStatus)
	case "scale":
		s.serveScale(w, r, req)
	case "binding":
		if r.Method != http.MethodPost {
			writeError(w, methodNotSupported(r, req))
			return
		}
		s.serveBinding(w, r, req)
	case "finalize":
		if r.Method != http.MethodPut {
			writeError(w, methodNotSupported(r, req))
			return
		}
		s.serveFinalize(w, r, req)
	case "eviction":
		if r.Method != http.MethodPost {
			writeError(w, methodNotSupported(r, req))
			return
		}
		s.serveEviction(w, r, req)
	case "proxy":
		s.serveProxy(w, r, req)
	case "token":
		if req.res.Name != "serviceaccounts" || req.subresource != "token" {
			writeError(w, apierrors.NewNotFound(req.res.groupResource(), req.name+"/"+req.subresource))
			return
		}
		s.serveTokenRequest(w, r, req)
	case "log", "exec", "attach", "portforward":
		if _, err := s.getEntry(r.Context(), req); err != nil {
			writeError(w, err)
			return
		}
		if s.cfg.Streams == nil {
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("pods/%s is not available: this server runs no node agent", sub)))
			return
		}
		s.cfg.Streams.ServePodStream(w, r, req.namespace, req.name, sub)
	default:
		if sr := req.res.subresource(sub); sr != nil && sr.Part != nil && sub == req.subresource {
			req.part = sr.Part
			s.serveWholeObject(w, r, req, writePart)
			return
		}
		writeError(w, apierrors.NewNotFound(req.res.groupResource(), req.name+"/"+req.subresource))
	}
}

// serveWholeObject serves a subresource that reads the whole object and
// writes one part of it (status, or a Part).
func (s *Server) serveWholeObject(w http.ResponseWriter, r *http.Request, req request, mode writeMode) {
	switch r.Method {
	case http.MethodGet:
		s.serveGet(w, r, req)
	case http.MethodPut:
		s.serveUpdate(w, r, req, mode)
	case http.MethodPatch:
		s.servePatch(w, r, req, mode)
	default:
		writeError(w, methodNotSupported(r, req))
	}
}
