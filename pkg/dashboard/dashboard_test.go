package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// recordingAPI answers every request with 200 and keeps what it was asked.
type recordingAPI struct {
	user apiserver.User
	req  *http.Request
}

func (a *recordingAPI) ServeAs(w http.ResponseWriter, r *http.Request, user apiserver.User) {
	a.user, a.req = user, r
	w.WriteHeader(http.StatusOK)
}

func serve(h http.Handler, r *http.Request, user *apiserver.User) *httptest.ResponseRecorder {
	if user != nil {
		r = r.WithContext(apiserver.WithUser(context.Background(), *user))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestAPIActsAsTheUser: a request under k8s/ reaches the API as the user the
// API server authenticated, at the API path, with nothing the page sent that
// could speak for someone else.
func TestAPIActsAsTheUser(t *testing.T) {
	api := &recordingAPI{}
	h := New(api)
	alice := apiserver.User{Name: "alice", Groups: []string{"dev"}}
	r := httptest.NewRequest("GET", "/k8s/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dkubia", nil)
	r.Header.Set(APIHeader, "1")
	r.Header.Set("Authorization", "Bearer someone-else")
	r.Header.Set("Cookie", "session=x")
	if w := serve(h, r, &alice); w.Code != http.StatusOK {
		t.Fatalf("k8s/ as alice: %d %s", w.Code, w.Body)
	}
	if api.user.Name != "alice" || api.req.URL.Path != "/api/v1/namespaces/default/pods" ||
		api.req.URL.Query().Get("labelSelector") != "app=kubia" || api.req.URL.Query().Get("watch") != "1" {
		t.Errorf("the API got user %q, %s", api.user.Name, api.req.URL)
	}
	for _, hdr := range []string{"Authorization", "Cookie", APIHeader} {
		if v := api.req.Header.Get(hdr); v != "" {
			t.Errorf("the API got the page's %s header %q", hdr, v)
		}
	}
}

// TestRefusals: no user, no header, or a write to the pages is refused with
// a Status, and the API is not called.
func TestRefusals(t *testing.T) {
	api := &recordingAPI{}
	h := New(api)
	bob := apiserver.User{Name: "bob"}
	noHeader := httptest.NewRequest("DELETE", "/k8s/api/v1/namespaces/default/pods/x", nil)
	withHeader := httptest.NewRequest("GET", "/whoami", nil)
	withHeader.Header.Set(APIHeader, "1")
	for _, tc := range []struct {
		name string
		r    *http.Request
		user *apiserver.User
		code int
	}{
		{"no user", withHeader, nil, http.StatusUnauthorized},
		{"no header (another site's form)", noHeader, &bob, http.StatusForbidden},
		{"a POST to the pages", httptest.NewRequest("POST", "/", strings.NewReader("x")), &bob, http.StatusMethodNotAllowed},
	} {
		w := serve(h, tc.r, tc.user)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), `"kind":"Status"`) {
			t.Errorf("%s: %d %s, want %d with a Status", tc.name, w.Code, w.Body, tc.code)
		}
	}
	if api.req != nil {
		t.Errorf("the API was called for %s", api.req.URL)
	}
}

// TestPages: the index and its files are served with a strict policy and an
// ETag, and a page the browser has is not sent again.
func TestPages(t *testing.T) {
	h := New(&recordingAPI{})
	carol := apiserver.User{Name: "carol"}
	w := serve(h, httptest.NewRequest("GET", "/", nil), &carol)
	if w.Code != http.StatusOK || !strings.Contains(strings.ToLower(w.Body.String()), "<!doctype html>") {
		t.Fatalf("the index: %d %.100s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	etag := w.Header().Get("ETag")
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("If-None-Match", etag)
	if w := serve(h, r, &carol); etag == "" || w.Code != http.StatusNotModified {
		t.Errorf("the index again with its ETag %q: %d, want 304", etag, w.Code)
	}
	if w := serve(h, httptest.NewRequest("GET", "/no-such-file.js", nil), &carol); w.Code != http.StatusNotFound {
		t.Errorf("a file that is not there: %d", w.Code)
	}
}
