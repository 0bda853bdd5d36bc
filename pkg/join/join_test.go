package join

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// existing are the Node names the test servers' NodeExists knows.
var existing = map[string]bool{}

const pw, otherPW = "0123456789abcdef0123", "fedcba9876543210fedc"

// testServer serves a join handler over TLS with a serving certificate from ca.
func testServer(t *testing.T, ca *pki.CA, token Token) *httptest.Server {
	t.Helper()
	certPEM, keyPEM, err := ca.SignServing("server", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(&Handler{CA: ca, Token: token, ClusterCIDR: "10.42.0.0/16",
		Passwords: memory.New(), NodeExists: func(name string) bool { return existing[name] }})
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestTokenRoundTripAndKeepsSecret(t *testing.T) {
	ca := newCA(t)
	path := filepath.Join(t.TempDir(), "server", "token")
	tok, err := EnsureToken(path, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	parsed, err := ParseToken(string(b))
	if err != nil || parsed != tok {
		t.Fatalf("ParseToken(%q) = %+v, %v; want %+v", b, parsed, err, tok)
	}
	if !strings.HasPrefix(string(b), "K10") || parsed.CAHash != pki.CAHash(ca.CertPEM()) {
		t.Fatalf("token %q does not carry the CA hash %s", b, pki.CAHash(ca.CertPEM()))
	}
	again, err := EnsureToken(path, ca.CertPEM())
	if err != nil || again != tok {
		t.Fatalf("second EnsureToken = %+v, %v; want the same token %+v", again, err, tok)
	}
	for _, bad := range []string{"", "secret", "K10abc::server:x", "K10" + strings.Repeat("a", 64) + "::server:", "K10" + strings.Repeat("g", 64) + "::server:x"} {
		if _, err := ParseToken(bad); err == nil || !strings.Contains(err.Error(), "malformed join token") {
			t.Errorf("ParseToken(%q) = %v, want a malformed-token error", bad, err)
		}
	}
}

func TestJoinIssuesNodeCredentials(t *testing.T) {
	ca := newCA(t)
	tok, err := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, ca, tok)
	creds, err := Join(context.Background(), srv.URL, tok, Request{NodeName: "node-3", NodeIP: "10.99.0.3", NodePassword: pw})
	if err != nil {
		t.Fatal(err)
	}
	client := parse(t, creds.ClientCert)
	if client.Subject.CommonName != "system:node:node-3" || len(client.Subject.Organization) != 1 || client.Subject.Organization[0] != "system:nodes" {
		t.Fatalf("client certificate subject %v, want system:node:node-3 in system:nodes", client.Subject)
	}
	serving := parse(t, creds.ServingCert)
	if err := serving.VerifyHostname("10.99.0.3"); err != nil {
		t.Fatalf("serving certificate: %v", err)
	}
	if _, err := serving.Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("serving certificate does not chain to the cluster CA: %v", err)
	}
	if creds.ClusterCIDR != "10.42.0.0/16" {
		t.Fatalf("clusterCIDR %q", creds.ClusterCIDR)
	}

	dir := filepath.Join(t.TempDir(), "pki")
	files, err := creds.Write(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.BuildConfigFromFlags("", files.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if kc.Host != srv.URL || len(kc.TLSClientConfig.CertData) == 0 || len(kc.TLSClientConfig.CAData) == 0 {
		t.Fatalf("kubeconfig: host %q, cert %d bytes, CA %d bytes", kc.Host, len(kc.TLSClientConfig.CertData), len(kc.TLSClientConfig.CAData))
	}
	if fi, err := os.Stat(files.ServingKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("serving key mode: %v %v", fi, err)
	}
}

func TestJoinRefusesWrongTokens(t *testing.T) {
	ca := newCA(t)
	tok, _ := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	srv := testServer(t, ca, tok)
	other, _ := EnsureToken(filepath.Join(t.TempDir(), "token"), newCA(t).CertPEM())

	wrongSecret := Token{CAHash: tok.CAHash, Secret: "not-the-secret"}
	if _, err := Join(context.Background(), srv.URL, wrongSecret, Request{NodeName: "n", NodePassword: pw}); !errors.Is(err, ErrRefused) {
		t.Fatalf("wrong secret: %v, want ErrRefused", err)
	}
	// Another cluster's token: the server is not trusted, so the secret is
	// never sent (the handler would refuse it anyway).
	if _, err := Join(context.Background(), srv.URL, other, Request{NodeName: "n", NodePassword: pw}); !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("other cluster's token: %v, want ErrCAMismatch", err)
	}
	if _, err := Join(context.Background(), srv.URL, tok, Request{NodeName: "Not_A_Name", NodePassword: pw}); !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "400") {
		t.Fatalf("bad node name: %v, want a 400", err)
	}
	if _, err := Join(context.Background(), "http://"+strings.TrimPrefix(srv.URL, "https://"), tok, Request{NodeName: "n", NodePassword: pw}); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("plain http: %v", err)
	}
	resp, err := srv.Client().Post(srv.URL+JoinPath, "application/json", strings.NewReader(`{"nodeName":"n"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("join without a token: %d, want 401", resp.StatusCode)
	}
}

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNodePasswordKeepsTheName: a second host joining under the name of a
// Node that exists is refused; once that Node is deleted the name is free.
func TestNodePasswordKeepsTheName(t *testing.T) {
	ca := newCA(t)
	tok, _ := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	srv := testServer(t, ca, tok)
	ctx := context.Background()
	if _, err := Join(ctx, srv.URL, tok, Request{NodeName: "twin", NodePassword: pw}); err != nil {
		t.Fatal(err)
	}
	existing["twin"] = true
	t.Cleanup(func() { delete(existing, "twin") })
	if _, err := Join(ctx, srv.URL, tok, Request{NodeName: "twin", NodePassword: pw}); err != nil {
		t.Fatalf("the same host joining again: %v", err)
	}
	_, err := Join(ctx, srv.URL, tok, Request{NodeName: "twin", NodePassword: otherPW})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), `node "twin" already joined from another host`) {
		t.Fatalf("another host under the same name: %v", err)
	}
	if _, err := Join(ctx, srv.URL, tok, Request{NodeName: "twin", NodePassword: "short"}); !errors.Is(err, ErrRejected) {
		t.Fatalf("a short password: %v", err)
	}
	delete(existing, "twin")
	if _, err := Join(ctx, srv.URL, tok, Request{NodeName: "twin", NodePassword: otherPW}); err != nil {
		t.Fatalf("the name after its Node was deleted: %v", err)
	}
}

// TestReservedNamesAreRefusedLikeTakenOnes: a name the server runs itself is
// refused with the very answer a name another host holds gets, whether or
// not its Node exists yet; a name bound to the server's password stays its
// own while the Node exists.
func TestReservedNamesAreRefusedLikeTakenOnes(t *testing.T) {
	ca := newCA(t)
	tok, _ := EnsureToken(filepath.Join(t.TempDir(), "token"), ca.CertPEM())
	h := &Handler{CA: ca, Token: tok, Passwords: memory.New(),
		NodeExists: func(name string) bool { return existing[name] },
		Reserved:   func(name string) bool { return name == "vm" },
	}
	existing["held"], existing["old"] = true, true
	t.Cleanup(func() { delete(existing, "held"); delete(existing, "old") })
	if rec := post(h, "10.0.0.1:1", tok.Secret, Request{NodeName: "held", NodePassword: pw}); rec.Code != http.StatusOK {
		t.Fatalf("first join of held: %d %s", rec.Code, rec.Body)
	}
	dup := post(h, "10.0.0.2:1", tok.Secret, Request{NodeName: "held", NodePassword: otherPW})
	own := post(h, "10.0.0.2:1", tok.Secret, Request{NodeName: "vm", NodePassword: otherPW})
	if dup.Code != http.StatusForbidden || own.Code != dup.Code {
		t.Fatalf("join as the server's own node: %d, a taken name: %d; want both 403", own.Code, dup.Code)
	}
	if want := strings.ReplaceAll(dup.Body.String(), "held", "vm"); own.Body.String() != want {
		t.Fatalf("join as the server's own node answered\n%s\nwant what a taken name gets:\n%s", own.Body, want)
	}
	if _, err := h.Passwords.Get(context.Background(), passwordsPrefix+"vm"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the refused join stored a password for vm: %v", err)
	}

	// The server binds the name of its node; after a restart under another
	// name it is no longer reserved, but still the server's while its Node exists.
	if err := h.Bind(context.Background(), "old", pw); err != nil {
		t.Fatal(err)
	}
	if rec := post(h, "10.0.0.2:1", tok.Secret, Request{NodeName: "old", NodePassword: otherPW}); rec.Code != http.StatusForbidden {
		t.Fatalf("join under the server's former node name: %d %s, want 403", rec.Code, rec.Body)
	}
	if rec := post(h, "10.0.0.3:1", tok.Secret, Request{NodeName: "old", NodePassword: pw}); rec.Code != http.StatusOK {
		t.Fatalf("the server's host joining under its former name: %d %s", rec.Code, rec.Body)
	}
	delete(existing, "old")
	if rec := post(h, "10.0.0.2:1", tok.Secret, Request{NodeName: "old", NodePassword: otherPW}); rec.Code != http.StatusOK {
		t.Fatalf("the former name once its Node is deleted: %d %s", rec.Code, rec.Body)
	}
	if err := h.Bind(context.Background(), "x", "short"); err == nil {
		t.Fatal("Bind took a short password")
	}
}

func TestPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent", "node-password")
	p1, err := LoadOrMakePassword(path)
	if err != nil || len(p1) < 16 {
		t.Fatalf("LoadOrMakePassword = %q, %v", p1, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadOrMakePassword wrote the file before a join: %v", err)
	}
	if err := SavePassword(path, p1); err != nil {
		t.Fatal(err)
	}
	if p2, err := LoadOrMakePassword(path); err != nil || p2 != p1 {
		t.Fatalf("after saving: %q, %v; want %q", p2, err, p1)
	}
}
