package etcdmember

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestOneMemberRestart(t *testing.T) {
	cfg := testConfig(t, testCA(t), "one")
	m := start(t, cfg)
	cfg = m.cfg
	if got, want := m.PeerURL(), cfg.peerURL(); got != want || !strings.HasPrefix(got, "https://127.0.0.1:") {
		t.Errorf("PeerURL = %q, want %q", got, want)
	}
	if m.ID() == 0 {
		t.Error("ID = 0")
	}
	put(t, m, "/registry/a", "1")
	if got := get(t, m, "/registry/a"); got != "1" {
		t.Fatalf("get = %q, want 1", got)
	}
	id := m.ID()
	m.Stop()
	m.Stop() // twice is fine
	if err, ok := <-m.Err(); ok {
		t.Errorf("Err after Stop = %v, want closed", err)
	}
	if _, err := m.Client().Get(ctxTimeout(t, time.Second), "/registry/a"); err == nil {
		t.Error("Client still works after Stop")
	}

	// A restart ignores the initial cluster: this one names a peer that does
	// not exist and would fail a new cluster.
	cfg.InitialCluster = "one=" + cfg.peerURL() + ",ghost=https://127.0.0.1:1"
	m = start(t, cfg)
	if got := get(t, m, "/registry/a"); got != "1" {
		t.Fatalf("after restart: get = %q, want 1", got)
	}
	if m.ID() != id {
		t.Errorf("ID after restart = %x, want %x", m.ID(), id)
	}
	members, err := Members(ctxTimeout(t, 5*time.Second), m.Client())
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 || members[0].Name != "one" || members[0].IsLearner ||
		members[0].ClientURLs[0] != m.ClientURL() || members[0].PeerURLs[0] != m.PeerURL() {
		t.Errorf("Members = %+v", members)
	}
}

func TestStartFailsClearly(t *testing.T) {
	ca := testCA(t)
	cfg := testConfig(t, ca, "m")
	cfg.Certs = Certs{}
	if _, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "EnsureCerts") {
		t.Errorf("Start without certificates: %v, want an error that names EnsureCerts", err)
	}
	cfg = testConfig(t, ca, "m")
	cfg.Join = true
	if _, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "AddLearner") {
		t.Errorf("Start to join without initial cluster: %v, want an error that names AddLearner", err)
	}
	cfg.Join = false
	cfg.ClientPort = cfg.PeerPort
	if _, err := Start(t.Context(), cfg); err == nil {
		t.Error("Start with the same port twice: no error")
	}
	if entries, _ := os.ReadDir(filepath.Dir(cfg.DataDir)); len(entries) == 0 {
		t.Fatal("test directory is gone")
	}
}

// TestTLS checks that both ports want a certificate from the members' CA.
func TestTLS(t *testing.T) {
	ca := testCA(t)
	cfg := testConfig(t, ca, "tls")
	m := start(t, cfg)
	put(t, m, "k", "v")

	good, err := cfg.Certs.clientTLS()
	if err != nil {
		t.Fatal(err)
	}
	noCert := good.Clone()
	noCert.Certificates = nil
	otherCerts, err := EnsureCerts(testCA(t), t.TempDir(), "intruder", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := otherCerts.clientTLS()
	if err != nil {
		t.Fatal(err)
	}
	other.RootCAs = good.RootCAs // trusts the member; the member must not trust it

	for _, tt := range []struct {
		name   string
		tls    *tls.Config
		wantOK bool
	}{
		{"certificate from the members' CA", good, true},
		{"no client certificate", noCert, false},
		{"certificate from another CA", other, false},
	} {
		t.Run("client port/"+tt.name, func(t *testing.T) {
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL()}, TLS: tt.tls, DialTimeout: time.Second, Logger: zapLogger(testLogger(t))})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			resp, err := cli.Get(ctxTimeout(t, time.Second), "k")
			if tt.wantOK {
				if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
					t.Errorf("get = %v, %v; want v", resp, err)
				}
			} else if err == nil {
				t.Errorf("get succeeded: %v", resp.Kvs)
			}
		})
		t.Run("peer port/"+tt.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: tt.tls}, Timeout: 2 * time.Second}
			resp, err := c.Get(m.PeerURL() + "/version")
			if err == nil {
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if !tt.wantOK {
					t.Errorf("GET /version on the peer port: %s %s", resp.Status, body)
				} else if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "etcdserver") {
					t.Errorf("GET /version on the peer port: %s %s, want 200 with the version", resp.Status, body)
				}
			} else if tt.wantOK {
				t.Errorf("GET /version on the peer port: %v", err)
			}
		})
	}

	// The client certificate carries no names: a member checks a client's
	// names against where it connects from.
	leaf := readCert(t, cfg.Certs.ClientCertFile)
	if len(leaf.IPAddresses)+len(leaf.DNSNames) != 0 {
		t.Errorf("client certificate names %v %v", leaf.IPAddresses, leaf.DNSNames)
	}
}

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(file, strings.TrimSuffix(file, ".crt")+".key")
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf
}
