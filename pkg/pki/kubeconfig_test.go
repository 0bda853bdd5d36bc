package pki

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestWriteKubeconfig(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile, err := ca.EnsureClient(filepath.Join(dir, "pki"), "admin", "system:admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "etc", "skiff", "admin.kubeconfig")
	const server = "https://127.0.0.1:6443"
	if err := WriteKubeconfig(path, server, ca.CertPEM(), certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	wantMode(t, path, 0o600)
	wantEntries(t, filepath.Dir(path), "admin.kubeconfig")

	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := raw.Contexts["default"]
	if raw.CurrentContext != "default" || ctx == nil || ctx.Cluster != "default" || ctx.AuthInfo != "default" ||
		len(raw.Clusters) != 1 || len(raw.AuthInfos) != 1 || len(raw.Contexts) != 1 {
		t.Errorf("kubeconfig is not named default throughout: %+v", raw)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	tlsc := cfg.TLSClientConfig
	switch {
	case cfg.Host != server:
		t.Errorf("Host = %q, want %q", cfg.Host, server)
	case string(tlsc.CAData) != string(ca.CertPEM()):
		t.Error("CAData is not the CA")
	case string(tlsc.CertData) != string(readFile(t, certFile)):
		t.Error("CertData is not the client certificate")
	case string(tlsc.KeyData) != string(readFile(t, keyFile)):
		t.Error("KeyData is not the client key")
	case tlsc.CAFile != "" || tlsc.CertFile != "" || tlsc.KeyFile != "":
		t.Errorf("kubeconfig refers to files: %+v", tlsc)
	}
}

// TestKubeconfigAuthenticates drives a real mutual-TLS handshake the way the
// API server will see it: a kubeconfig, copied away from the files it was
// made from, reaches a server that presents an EnsureServing certificate and
// trusts only the CA, which reads the user and groups off the client
// certificate.
func TestKubeconfigAuthenticates(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	srvDir := t.TempDir()
	certFile, keyFile, err := ca.EnsureServing(srvDir, "apiserver", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := r.TLS.PeerCertificates[0]
		fmt.Fprintf(w, "%s %s", c.Subject.CommonName, strings.Join(c.Subject.Organization, ","))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.CertPool()}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()

	tests := []struct {
		name     string
		signer   *CA
		user     string
		groups   []string
		wantBody string
	}{
		{"admin", ca, "system:admin", []string{"system:masters"}, "system:admin system:masters"},
		{"user with groups", ca, "alice", []string{"dev", "ops"}, "alice dev,ops"},
		{"client of another CA is refused", other, "system:admin", []string{"system:masters"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c, k, err := tt.signer.EnsureClient(filepath.Join(dir, "pki"), "client", tt.user, tt.groups)
			if err != nil {
				t.Fatal(err)
			}
			// The client trusts ca in every case: only the server's check differs.
			made := filepath.Join(dir, "made.kubeconfig")
			if err := WriteKubeconfig(made, srv.URL, ca.CertPEM(), c, k); err != nil {
				t.Fatal(err)
			}
			copied := filepath.Join(t.TempDir(), "config")
			writeFile(t, copied, readFile(t, made))
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}

			cfg, err := clientcmd.BuildConfigFromFlags("", copied)
			if err != nil {
				t.Fatal(err)
			}
			client, err := rest.HTTPClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Get(srv.URL)
			if tt.wantBody == "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("server accepted a client certificate from another CA: %s", resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tt.wantBody {
				t.Errorf("server saw %q, want %q", body, tt.wantBody)
			}
		})
	}
}
