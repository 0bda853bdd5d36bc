package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestEnsureServing(t *testing.T) {
	ca := newTestCA(t)
	firstHosts := []string{"localhost", "skiff.local"}
	firstIPs := []net.IP{net.ParseIP("127.0.0.1")}
	tests := []struct {
		name      string
		hosts     []string
		ips       []net.IP
		wantReuse bool
	}{
		{"same names are reused", firstHosts, firstIPs, true},
		{"fewer names are reused", []string{"localhost"}, nil, true},
		{"host names compare case-insensitively", []string{"LocalHost"}, nil, true},
		{"IP written as a host is an IP", []string{"127.0.0.1"}, nil, true},
		{"added host regenerates", []string{"localhost", "api.example.com"}, firstIPs, false},
		{"added IP regenerates", firstHosts, []net.IP{net.ParseIP("10.0.0.1")}, false},
		{"added IPv6 regenerates", []string{"::1"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			certFile, keyFile, err := ca.EnsureServing(dir, "apiserver", firstHosts, firstIPs)
			if err != nil {
				t.Fatal(err)
			}
			if certFile != filepath.Join(dir, "apiserver.crt") || keyFile != filepath.Join(dir, "apiserver.key") {
				t.Errorf("files = %s, %s", certFile, keyFile)
			}
			wantMode(t, dir, 0o700)
			wantMode(t, keyFile, 0o600)
			wantMode(t, certFile, 0o644)
			before, beforeKey := readFile(t, certFile), readFile(t, keyFile)

			if _, _, err := ca.EnsureServing(dir, "apiserver", tt.hosts, tt.ips); err != nil {
				t.Fatal(err)
			}
			after, afterKey := readFile(t, certFile), readFile(t, keyFile)
			if reused := string(before) == string(after) && string(beforeKey) == string(afterKey); reused != tt.wantReuse {
				t.Errorf("reused = %v, want %v", reused, tt.wantReuse)
			}
			wantEntries(t, dir, "apiserver.crt", "apiserver.key")

			cert := parseCert(t, after)
			verify(t, ca, cert, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
			for _, h := range tt.hosts {
				if err := cert.VerifyHostname(h); err != nil {
					t.Errorf("certificate does not cover %q: %v", h, err)
				}
			}
			for _, ip := range tt.ips {
				if err := cert.VerifyHostname(ip.String()); err != nil {
					t.Errorf("certificate does not cover %v: %v", ip, err)
				}
			}
			if time.Until(cert.NotAfter) < 364*24*time.Hour {
				t.Errorf("NotAfter %v is less than a year away", cert.NotAfter)
			}
		})
	}
}

// TestEnsureReplaces puts a pair on disk that must, or must not, be kept.
func TestEnsureReplaces(t *testing.T) {
	ca := newTestCA(t)
	other, _, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"localhost"}
	serving := func(ca *CA, valid time.Duration) func() ([]byte, []byte, error) {
		return func() ([]byte, []byte, error) {
			now := time.Now()
			return ca.sign(&x509.Certificate{
				Subject:     pkix.Name{CommonName: "apiserver"},
				DNSNames:    hosts,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				NotBefore:   now.Add(-time.Hour),
				NotAfter:    now.Add(valid),
			})
		}
	}
	tests := []struct {
		name     string
		existing func() ([]byte, []byte, error)
		wantKeep bool
	}{
		{"60 days left is kept", serving(ca, 60*24*time.Hour), true},
		{"10 days left is replaced", serving(ca, 10*24*time.Hour), false},
		{"expired is replaced", serving(ca, -time.Minute), false},
		{"signed by another CA is replaced", serving(other, leafValidity), false},
		{"client certificate is replaced", func() ([]byte, []byte, error) { return ca.SignClient("apiserver", nil) }, false},
		{"key of another pair is replaced", func() ([]byte, []byte, error) {
			crt, _, err := ca.SignServing("apiserver", hosts, nil)
			_, key, _ := ca.SignServing("apiserver", hosts, nil)
			return crt, key, err
		}, false},
		{"garbage is replaced", func() ([]byte, []byte, error) { return []byte("x"), []byte("y"), nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			crt, key, err := tt.existing()
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "apiserver.crt"), crt)
			writeFile(t, filepath.Join(dir, "apiserver.key"), key)
			certFile, _, err := ca.EnsureServing(dir, "apiserver", hosts, nil)
			if err != nil {
				t.Fatal(err)
			}
			after := readFile(t, certFile)
			if kept := string(after) == string(crt); kept != tt.wantKeep {
				t.Fatalf("kept = %v, want %v", kept, tt.wantKeep)
			}
			verify(t, ca, parseCert(t, after), x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
		})
	}
}

func TestEnsureClient(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		name      string
		cn        string
		orgs      []string
		againCN   string
		againOrgs []string
		wantReuse bool
	}{
		{"admin is reused", "system:admin", []string{"system:masters"}, "system:admin", []string{"system:masters"}, true},
		{"group order does not matter", "alice", []string{"b", "a"}, "alice", []string{"a", "b"}, true},
		{"no groups is reused", "kubelet", nil, "kubelet", nil, true},
		{"added group regenerates", "alice", []string{"a"}, "alice", []string{"a", "b"}, false},
		{"removed group regenerates", "alice", []string{"a", "b"}, "alice", []string{"a"}, false},
		{"other user regenerates", "alice", []string{"a"}, "bob", []string{"a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile, err := ca.EnsureClient(dir, "client", tt.cn, tt.orgs)
			if err != nil {
				t.Fatal(err)
			}
			wantMode(t, keyFile, 0o600)
			wantMode(t, certFile, 0o644)
			before := readFile(t, certFile)

			if _, _, err := ca.EnsureClient(dir, "client", tt.againCN, tt.againOrgs); err != nil {
				t.Fatal(err)
			}
			after := readFile(t, certFile)
			if reused := string(before) == string(after); reused != tt.wantReuse {
				t.Errorf("reused = %v, want %v", reused, tt.wantReuse)
			}
			cert := parseCert(t, after)
			verify(t, ca, cert, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth)
			if cert.Subject.CommonName != tt.againCN {
				t.Errorf("CN = %q, want %q", cert.Subject.CommonName, tt.againCN)
			}
			if got, want := sortedCopy(cert.Subject.Organization), sortedCopy(tt.againOrgs); !slices.Equal(got, want) {
				t.Errorf("O = %q, want %q", got, want)
			}
		})
	}
}

func TestEnsureRejects(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		call func() error
	}{
		{"name with a path", func() error { _, _, err := ca.EnsureClient(dir, "../x", "u", nil); return err }},
		{"empty name", func() error { _, _, err := ca.EnsureServing(dir, "", []string{"h"}, nil); return err }},
		{"serving without names", func() error { _, _, err := ca.EnsureServing(dir, "s", []string{""}, nil); return err }},
		{"client without user", func() error { _, _, err := ca.EnsureClient(dir, "c", "", nil); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Fatal("no error")
			}
			wantEntries(t, dir)
		})
	}
}
