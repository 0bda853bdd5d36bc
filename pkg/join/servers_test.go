package join

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
)

// TestServerJoinMayWait: a server that may join in a moment (AddServer
// answers Unavailable, wrapped as callers wrap it) gets a 503 with a
// Retry-After, not a 500, and joins when it asks again.
func TestServerJoinMayWait(t *testing.T) {
	ca := newCA(t)
	tok, _ := EnsureToken(filepath.Join(t.TempDir(), "server-token"), ca.CertPEM())
	calls := 0
	h := &Handler{CA: ca, ServerToken: tok, AddServer: func(context.Context, ServerRequest) (*ServerCredentials, error) {
		calls++
		if calls == 1 {
			return nil, fmt.Errorf("adding etcd member s2: %w", Unavailable(errors.New("etcdserver: too many learner members in cluster"), 5*time.Second))
		}
		return &ServerCredentials{InitialCluster: "s1=https://10.0.0.1:2380,s2=https://10.0.0.2:2380"}, nil
	}}
	ask := func() *httptest.ResponseRecorder {
		body, _ := json.Marshal(ServerRequest{Name: "s2", PeerURL: "https://10.0.0.2:2380"})
		r := httptest.NewRequest(http.MethodPost, ServerJoinPath, bytes.NewReader(body))
		r.RemoteAddr = "10.0.0.2:1"
		r.Header.Set("Authorization", "Bearer "+tok.Secret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := ask(); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("a join while another server joins: %d (Retry-After %q) %s, want 503 with Retry-After 5", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := ask(); rec.Code != http.StatusOK {
		t.Fatalf("the join asked again: %d %s", rec.Code, rec.Body)
	}
}
