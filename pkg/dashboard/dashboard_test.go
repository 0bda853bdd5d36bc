package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

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

// forbiddingAPI refuses every request with a 403 Status, and keeps the last.
type forbiddingAPI struct {
	mu   sync.Mutex
	user apiserver.User
	req  *http.Request
}

func (a *forbiddingAPI) ServeAs(w http.ResponseWriter, r *http.Request, user apiserver.User) {
	a.mu.Lock()
	a.user, a.req = user, r
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"web\" is forbidden: User \"alice\" cannot create resource \"pods/exec\"","reason":"Forbidden","code":403}`)
}

// TestTerminalTickets: a terminal's ticket is asked for with the dashboard's
// header, and is good once, for the user it was issued to.
func TestTerminalTickets(t *testing.T) {
	h := New(&recordingAPI{})
	alice, bob := apiserver.User{Name: "alice"}, apiserver.User{Name: "bob"}
	ask := func(method, body string, header bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/term-token", strings.NewReader(body))
		if header {
			r.Header.Set(APIHeader, "1")
		}
		return serve(h, r, &alice)
	}
	good := `{"namespace":"default","pod":"web","container":"app"}`
	for _, tc := range []struct {
		name, method, body string
		header             bool
		code               int
	}{
		{"without the header", "POST", good, false, http.StatusForbidden},
		{"a GET", "GET", "", true, http.StatusMethodNotAllowed},
		{"not JSON", "POST", "web", true, http.StatusBadRequest},
		{"a bad namespace", "POST", `{"namespace":"Default","pod":"web","container":"app"}`, true, http.StatusBadRequest},
	} {
		if w := ask(tc.method, tc.body, tc.header); w.Code != tc.code || !strings.Contains(w.Body.String(), `"kind":"Status"`) {
			t.Errorf("%s: %d %s, want %d with a Status", tc.name, w.Code, w.Body, tc.code)
		}
	}
	token := func() string {
		w := ask("POST", good, true)
		var got struct{ Token string }
		if err := json.NewDecoder(w.Body).Decode(&got); err != nil || w.Code != http.StatusOK || len(got.Token) != 64 {
			t.Fatalf("a ticket: %d %v %q", w.Code, err, got.Token)
		}
		return got.Token
	}
	open := func(tok string, as apiserver.User) int {
		return serve(h, httptest.NewRequest("GET", "/term?token="+tok, nil), &as).Code
	}
	if code := open(token(), bob); code != http.StatusForbidden {
		t.Errorf("alice's ticket used by bob: %d, want 403", code)
	}
	if code := open("", alice); code != http.StatusForbidden {
		t.Errorf("no ticket: %d, want 403", code)
	}
	tok := token()
	_ = open(tok, alice) // not a WebSocket: spent all the same
	if code := open(tok, alice); code != http.StatusForbidden {
		t.Errorf("a ticket used twice: %d, want 403", code)
	}
}

// TestTerminalExecsAsTheUser: the terminal's exec reaches the API as the
// user, at pods/exec with a TTY and the shell; the API's refusal ends the
// session with its message.
func TestTerminalExecsAsTheUser(t *testing.T) {
	api := &forbiddingAPI{}
	h := New(api)
	alice := apiserver.User{Name: "alice", Groups: []string{"dev"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(apiserver.WithUser(r.Context(), alice)))
	}))
	defer srv.Close()
	r, _ := http.NewRequest("POST", srv.URL+"/term-token", strings.NewReader(`{"namespace":"default","pod":"web","container":"app"}`))
	r.Header.Set(APIHeader, "1")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/term?cols=80&rows=24&token="+got.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, msg, err := c.Read(ctx)
	if err != nil || len(msg) == 0 || msg[0] != chanStatus || !strings.Contains(string(msg[1:]), "forbidden") {
		t.Fatalf("the session's end: %q %v, want channel 3 with the API's refusal", msg, err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	q := api.req.URL.Query()
	if api.user.Name != "alice" || api.req.URL.Path != "/api/v1/namespaces/default/pods/web/exec" ||
		q.Get("container") != "app" || q.Get("tty") != "true" || q.Get("stdin") != "true" || q["command"][0] != "sh" {
		t.Errorf("the exec reached the API as %q at %s", api.user.Name, api.req.URL)
	}
}
