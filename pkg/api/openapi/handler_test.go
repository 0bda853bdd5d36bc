package openapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
)

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(testDocs(t).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClientGoReadsTheDocuments fetches the documents with client-go's own
// discovery and openapi3 clients, which kubectl uses.
func TestClientGoReadsTheDocuments(t *testing.T) {
	srv := serve(t)
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema (v2 protobuf): %v", err)
	}
	if v2.GetSwagger() != "2.0" || v2.GetInfo().GetVersion() != "v1.33.0-skiff" || len(v2.GetDefinitions().GetAdditionalProperties()) < 100 {
		t.Errorf("v2 document: swagger %q, version %q, %d definitions",
			v2.GetSwagger(), v2.GetInfo().GetVersion(), len(v2.GetDefinitions().GetAdditionalProperties()))
	}
	root := openapi3.NewRoot(dc.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatalf("GroupVersions: %v", err)
	}
	if len(gvs) != 5 {
		t.Errorf("group-versions = %v, want 5", gvs)
	}
	pods, err := root.GVSpec(schema.GroupVersion{Version: "v1"})
	if err != nil {
		t.Fatalf("GVSpec(v1): %v", err)
	}
	if ok, found := supportsFieldValidation(pods, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}); !ok || !found {
		t.Errorf("kubectl would not send fieldValidation for pods")
	}
	lease, err := root.GVSpec(schema.GroupVersion{Group: "coordination.k8s.io", Version: "v1"})
	if err != nil {
		t.Fatalf("GVSpec(coordination.k8s.io/v1): %v", err)
	}
	if lease.Components.Schemas["io.k8s.api.coordination.v1.Lease"] == nil {
		t.Errorf("coordination.k8s.io/v1 has no Lease schema")
	}
	if lease.Components.Schemas["io.k8s.api.core.v1.Pod"] != nil {
		t.Errorf("coordination.k8s.io/v1 carries core/v1 Pod, which it does not refer to")
	}
}

func TestHandlerV2Negotiation(t *testing.T) {
	srv := serve(t)
	d := testDocs(t)
	tests := []struct {
		accept, wantType string
		want             []byte
	}{
		{"", mediaJSON, d.V2JSON()},
		{"application/json", mediaJSON, d.V2JSON()},
		{mediaV2ProtoRequested, mediaV2Proto, d.V2Proto()},
		{mediaV2Proto, mediaV2Proto, d.V2Proto()},
		{"application/json;q=0.5, " + mediaV2ProtoRequested, mediaV2Proto, d.V2Proto()},
		{"text/html, */*;q=0.1", mediaJSON, d.V2JSON()},
	}
	for _, tt := range tests {
		resp := get(t, srv.URL+"/openapi/v2", "Accept", tt.accept)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.wantType {
			t.Errorf("Accept %q: %d %q, want 200 %q", tt.accept, resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantType)
		}
		if b := body(t, resp); !bytes.Equal(b, tt.want) {
			t.Errorf("Accept %q: body of %d bytes, want %d", tt.accept, len(b), len(tt.want))
		}
	}
	var doc struct{ Swagger string }
	if err := json.Unmarshal(d.V2JSON(), &doc); err != nil || doc.Swagger != "2.0" {
		t.Errorf("V2JSON: swagger %q, %v", doc.Swagger, err)
	}
}

func TestHandlerErrors(t *testing.T) {
	srv := serve(t)
	for _, tt := range []struct {
		method, path, accept string
		code                 int
		reason               string
	}{
		{http.MethodGet, "/openapi/v2", "text/html", http.StatusNotAcceptable, "NotAcceptable"},
		{http.MethodGet, "/openapi/v3/api/v1", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf", http.StatusNotAcceptable, "NotAcceptable"},
		{http.MethodGet, "/openapi/v3/apis/nope/v1", "", http.StatusNotFound, "NotFound"},
		{http.MethodGet, "/openapi/v4", "", http.StatusNotFound, "NotFound"},
		{http.MethodPost, "/openapi/v2", "", http.StatusMethodNotAllowed, "MethodNotAllowed"},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		req.Header.Set("Accept", tt.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var status struct {
			Kind, APIVersion, Reason string
			Code                     int
		}
		err = json.NewDecoder(resp.Body).Decode(&status)
		resp.Body.Close()
		if resp.StatusCode != tt.code || err != nil || status.Kind != "Status" || status.APIVersion != "v1" ||
			status.Reason != tt.reason || status.Code != tt.code {
			t.Errorf("%s %s (Accept %q): %d %+v (%v), want %d %s Status", tt.method, tt.path, tt.accept,
				resp.StatusCode, status, err, tt.code, tt.reason)
		}
	}
}

func TestHandlerV3Caching(t *testing.T) {
	srv := serve(t)
	d := testDocs(t)
	resp := get(t, srv.URL+"/openapi/v3")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != mediaJSON {
		t.Fatalf("GET /openapi/v3: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var index struct {
		Paths map[string]struct{ ServerRelativeURL string }
	}
	if err := json.Unmarshal(body(t, resp), &index); err != nil {
		t.Fatal(err)
	}
	for _, k := range testKinds() {
		if _, ok := index.Paths[groupVersionPath(k.GVK.Group, k.GVK.Version)]; !ok {
			t.Errorf("index lacks %s", groupVersionPath(k.GVK.Group, k.GVK.Version))
		}
	}
	for gv, entry := range index.Paths {
		doc, hash, _ := d.V3(gv)
		if want := "/openapi/v3/" + gv + "?hash=" + hash; entry.ServerRelativeURL != want {
			t.Errorf("%s: serverRelativeURL %q, want %q", gv, entry.ServerRelativeURL, want)
		}
		resp := get(t, srv.URL+entry.ServerRelativeURL, "Accept", "application/json")
		h := resp.Header
		if resp.StatusCode != http.StatusOK || h.Get("Etag") != `"`+hash+`"` ||
			!strings.Contains(h.Get("Cache-Control"), "immutable") || !strings.Contains(h.Get("Cache-Control"), "max-age=") ||
			h.Get("Expires") == "" || !bytes.Equal(body(t, resp), doc) {
			t.Errorf("GET %s: %d, Etag %q, Cache-Control %q, Expires %q", entry.ServerRelativeURL,
				resp.StatusCode, h.Get("Etag"), h.Get("Cache-Control"), h.Get("Expires"))
		}
		again := get(t, srv.URL+entry.ServerRelativeURL, "If-None-Match", h.Get("Etag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match: %d, want 304", entry.ServerRelativeURL, again.StatusCode)
		}
	}

	_, hash, _ := d.V3("api/v1")
	stale := get(t, srv.URL+"/openapi/v3/api/v1?hash=0123")
	if stale.StatusCode != http.StatusMovedPermanently || stale.Header.Get("Location") != "/openapi/v3/api/v1?hash="+hash {
		t.Errorf("stale hash: %d Location %q", stale.StatusCode, stale.Header.Get("Location"))
	}
	plain := get(t, srv.URL+"/openapi/v3/api/v1")
	if plain.StatusCode != http.StatusOK || strings.Contains(plain.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("without hash: %d Cache-Control %q, want 200 and revalidation", plain.StatusCode, plain.Header.Get("Cache-Control"))
	}
	v2 := get(t, srv.URL+"/openapi/v2", "Accept", mediaV2ProtoRequested)
	if again := get(t, srv.URL+"/openapi/v2", "Accept", mediaV2ProtoRequested, "If-None-Match", v2.Header.Get("Etag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("v2 If-None-Match: %d, want 304", again.StatusCode)
	}
}
