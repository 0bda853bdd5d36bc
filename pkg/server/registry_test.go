package server

import (
	"crypto/tls"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/pki"
)

// TestRegistryBehindTheAPIServer: the registry under /v2/ takes the API
// server's identities: the admin kubeconfig pushes, a node certificate pulls
// but may not push, anonymous gets 401 with a challenge; a restart keeps
// the content.
func TestRegistryBehindTheAPIServer(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	host := "127.0.0.1:" + strconv.Itoa(port)
	_, stop := start(t, dir, port)

	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	adminTLS, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsDir := filepath.Join(dir, "server", "tls")
	ca, err := pki.EnsureCA(tlsDir)
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, nodeKey, err := ca.EnsureClient(t.TempDir(), "node", "system:node:n1", []string{"system:nodes"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(nodeCert, nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	with := func(c *tls.Config) crane.Option {
		return crane.WithTransport(&http.Transport{TLSClientConfig: c})
	}
	admin := with(adminTLS)
	node := with(&tls.Config{RootCAs: ca.CertPool(), Certificates: []tls.Certificate{pair}})
	anon := with(&tls.Config{RootCAs: ca.CertPool()})
	status := func(err error) int {
		var te *transport.Error
		if errors.As(err, &te) {
			return te.StatusCode
		}
		return 0
	}

	img, _ := random.Image(10000, 2)
	want, _ := img.Digest()
	if err := crane.Push(img, host+"/team/app:v1", admin); err != nil {
		t.Fatalf("admin push: %v", err)
	}
	if got, err := crane.Digest(host+"/team/app:v1", node); err != nil || got != want.String() {
		t.Fatalf("node pull: %s, %v", got, err)
	}
	if err := crane.Push(img, host+"/team/app:v2", node); status(err) != http.StatusForbidden {
		t.Fatalf("node push: %v, want 403", err)
	}
	if _, err := crane.Digest(host+"/team/app:v1", anon); status(err) != http.StatusUnauthorized {
		t.Fatalf("anonymous pull: %v, want 401", err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.CertPool()}}}).Get("https://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous /v2/: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	stop()
	_, stop = start(t, dir, port)
	defer stop()
	if got, err := crane.Digest(host+"/team/app:v1", node); err != nil || got != want.String() {
		t.Fatalf("after a restart: %s, %v", got, err)
	}
}
