package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/join"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestWorkerRefusesBadArguments: each mistake on `skiff agent`'s command line
// is refused at once, saying what to fix, before anything is written.
func TestWorkerRefusesBadArguments(t *testing.T) {
	dir := t.TempDir()
	good := "K10" + strings.Repeat("a", 64) + "::server:secret"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	for _, tc := range []struct {
		name string
		cfg  WorkerConfig
		want string
	}{
		{"no server", WorkerConfig{Token: good}, "--server and --token (or --token-file) are required"},
		{"no token", WorkerConfig{ServerURL: "https://127.0.0.1:1"}, "--server and --token (or --token-file) are required"},
		{"both token and file", WorkerConfig{ServerURL: "https://127.0.0.1:1", Token: good, TokenFile: tokenFile}, "give --token or --token-file, not both"},
		{"missing token file", WorkerConfig{ServerURL: "https://127.0.0.1:1", TokenFile: filepath.Join(dir, "nope")}, "--token-file: open"},
		{"malformed token", WorkerConfig{ServerURL: "https://127.0.0.1:1", Token: "abc"}, "malformed join token"},
		{"bad backend", WorkerConfig{ServerURL: "https://127.0.0.1:1", TokenFile: tokenFile, NetworkBackend: "flannel"}, "--network-backend"},
		{"bad node IP", WorkerConfig{ServerURL: "https://127.0.0.1:1", TokenFile: tokenFile, NodeName: "w1", NodeIP: "not-an-ip"}, `--node-ip "not-an-ip" is not an IP address`},
	} {
		tc.cfg.DataDir = dataDir
		err := RunWorker(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("a refused agent wrote its data dir: %v", err)
	}
}

// TestAgentWaitsOutTheBackOff: a host whose address is backing off after
// failed joins (say, a supervisor restarting an agent with a stale token) is
// answered 429; with the right token its agent waits as long as the server
// said, asks once more, and joins.
func TestAgentWaitsOutTheBackOff(t *testing.T) {
	ca, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := join.EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.SignServing("server", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	h := &join.Handler{CA: ca, Token: tok, ClusterCIDR: "10.42.0.0/16", Passwords: memory.New()}
	var mu sync.Mutex
	var answers []int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if r.URL.Path == join.JoinPath {
			mu.Lock()
			answers = append(answers, rec.Code)
			mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stale := join.Token{CAHash: tok.CAHash, Secret: "a-stale-secret"}
	req := join.Request{NodeName: "w1", NodeIP: "127.0.0.1", NodePassword: "worker-one-password-0"}
	for range 6 { // five are forgiven
		if _, err := joinCluster(ctx, srv.URL, stale, req, io.Discard); !errors.Is(err, join.ErrRefused) {
			t.Fatalf("a stale token: %v, want a refusal", err)
		}
	}
	var out strings.Builder
	start := time.Now()
	creds, err := joinCluster(ctx, srv.URL, tok, req, &out)
	if err != nil {
		t.Fatalf("joining with the right token: %v", err)
	}
	waited := time.Since(start)
	mu.Lock()
	got := fmt.Sprint(answers[6:])
	mu.Unlock()
	if got != "[429 200]" {
		t.Fatalf("the server answered %s, want one 429 and then the join", got)
	}
	if !strings.Contains(out.String(), "is backing off joins from this address after failed ones; retrying in 1s") {
		t.Fatalf("the agent said %q", out.String())
	}
	if waited < 900*time.Millisecond {
		t.Fatalf("the agent asked again after %s, before the second the server asked for", waited)
	}
	if len(creds.ClientCert) == 0 {
		t.Fatal("no credentials")
	}
}

// TestOfferFallbacks: the agent is offered every server but the one joined,
// as URLs, and only the latest list waits for it.
func TestOfferFallbacks(t *testing.T) {
	ch := make(chan []string, 1)
	offerFallbacks(ch, "10.0.0.1:6443", []string{"10.0.0.1:6443", "10.0.0.2:6443"})
	offerFallbacks(ch, "10.0.0.1:6443", []string{"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"})
	got := <-ch
	if want := []string{"https://10.0.0.2:6443", "https://10.0.0.3:6443"}; !slices.Equal(got, want) {
		t.Fatalf("offered %v, want %v", got, want)
	}
	select {
	case old := <-ch:
		t.Fatalf("a stale list waits too: %v", old)
	default:
	}
}
