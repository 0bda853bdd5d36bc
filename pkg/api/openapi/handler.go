package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	mediaJSON = "application/json"
	// kubectl asks for the first form; the second is the one upstream answers with.
	mediaV2ProtoRequested = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mediaV2Proto          = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
)

// Handler returns an http.Handler serving /openapi/v2 and /openapi/v3[/...];
// mount it at "/openapi/" without stripping the prefix.
// The v2 document is negotiated by Accept between JSON and protobuf; v3 is
// JSON only. Responses carry ETags and honour If-None-Match; a v3 document
// fetched by its ?hash= URL never changes and may be cached for a year, and a
// stale hash is redirected to the current one. A media type the server cannot
// produce gets 406.
func (d *Documents) Handler() http.Handler {
	return http.HandlerFunc(d.serveHTTP)
}

func (d *Documents) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path))
		return
	}
	path := r.URL.Path
	switch {
	case path == "/openapi/v2":
		d.serveV2(w, r)
	case path == "/openapi/v3" || path == "/openapi/v3/":
		d.serve(w, r, []offer{{mediaJSON, mediaJSON, d.v3Index, d.v3IndexTag}}, false)
	case strings.HasPrefix(path, "/openapi/v3/"):
		d.serveV3(w, r, strings.TrimPrefix(path, "/openapi/v3/"))
	default:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s not found", path))
	}
}

// offer is one representation of a document.
type offer struct {
	accepts     string // media type matched against Accept
	contentType string // media type answered
	body        []byte
	etag        string
}

func (d *Documents) serveV2(w http.ResponseWriter, r *http.Request) {
	d.serve(w, r, []offer{
		{mediaJSON, mediaJSON, d.v2JSON, d.v2JSONTag},
		{mediaV2ProtoRequested, mediaV2Proto, d.v2Proto, d.v2ProtoTag},
		{mediaV2Proto, mediaV2Proto, d.v2Proto, d.v2ProtoTag},
	}, false)
}

func (d *Documents) serveV3(w http.ResponseWriter, r *http.Request, gvPath string) {
	doc, ok := d.v3[gvPath]
	if !ok {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound,
			fmt.Sprintf("no OpenAPI v3 document for %q", gvPath))
		return
	}
	h := r.URL.Query().Get("hash")
	if h != "" && h != doc.hash {
		// An old URL from a cached index: send the client to the current document.
		u := url.URL{Path: "/openapi/v3/" + gvPath, RawQuery: url.Values{"hash": {doc.hash}}.Encode()}
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
		return
	}
	d.serve(w, r, []offer{{mediaJSON, mediaJSON, doc.body, etag(doc.hash)}}, h != "")
}

// serve answers with the first offer the Accept header allows.
func (d *Documents) serve(w http.ResponseWriter, r *http.Request, offers []offer, immutable bool) {
	w.Header().Add("Vary", "Accept")
	o, ok := negotiate(r.Header.Get("Accept"), offers)
	if !ok {
		var types []string
		for _, o := range offers {
			types = append(types, o.accepts)
		}
		writeStatus(w, http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
			fmt.Sprintf("only the following media types are accepted: %s", strings.Join(types, ", ")))
		return
	}
	h := w.Header()
	h.Set("Content-Type", o.contentType)
	h.Set("Etag", o.etag)
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	} else {
		// Cacheable, but revalidated each time with If-None-Match.
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", d.built, bytes.NewReader(o.body))
}

// negotiate picks the offer for the highest-quality media range in accept
// that matches one, in the client's order between equal qualities.
func negotiate(accept string, offers []offer) (offer, bool) {
	if strings.TrimSpace(accept) == "" {
		accept = "*/*"
	}
	type clause struct {
		typ, sub string
		q        float64
	}
	var clauses []clause
	for _, part := range strings.Split(accept, ",") {
		media, params, _ := strings.Cut(part, ";")
		typ, sub, _ := strings.Cut(strings.TrimSpace(media), "/")
		c := clause{typ: strings.ToLower(typ), sub: strings.ToLower(strings.TrimSpace(sub)), q: 1}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(v, 64); err == nil {
					c.q = q
				}
			}
		}
		if c.q > 0 && c.typ != "" {
			clauses = append(clauses, c)
		}
	}
	slices.SortStableFunc(clauses, func(a, b clause) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	for _, c := range clauses {
		for _, o := range offers {
			typ, sub, _ := strings.Cut(o.accepts, "/")
			if (c.typ == "*" || c.typ == typ) && (c.sub == "*" || c.sub == sub) {
				return o, true
			}
		}
	}
	return offer{}, false
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	body, _ := json.Marshal(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	})
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(body)
}
