package etcdmember

import (
	"bytes"
	"crypto/x509"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEnsureCerts(t *testing.T) {
	ca := testCA(t)
	dir := filepath.Join(t.TempDir(), "etcd-tls")
	ip := net.ParseIP("10.0.0.7")
	certs, err := EnsureCerts(ca, dir, "node-1", []net.IP{ip})
	if err != nil {
		t.Fatal(err)
	}

	if got := readFile(t, certs.CAFile); !bytes.Equal(got, ca.CertPEM()) {
		t.Error("CA file is not the members' CA")
	}
	for _, key := range []string{certs.PeerKeyFile, certs.ServerKeyFile, certs.ClientKeyFile} {
		if info, err := os.Stat(key); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", key, err, info.Mode().Perm())
		}
	}
	wantIPs := []string{"10.0.0.7", "127.0.0.1", "::1"}
	for _, tt := range []struct {
		file   string
		cn     string
		usages []x509.ExtKeyUsage
		ips    []string
		dns    []string
	}{
		{certs.PeerCertFile, "node-1", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, wantIPs, []string{"localhost"}},
		{certs.ServerCertFile, "node-1", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, wantIPs, []string{"localhost"}},
		{certs.ClientCertFile, clientCommonName, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil},
	} {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			c := readCert(t, tt.file)
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			slices.Sort(ips)
			if c.Subject.CommonName != tt.cn || !slices.Equal(c.ExtKeyUsage, tt.usages) || !slices.Equal(ips, tt.ips) || !slices.Equal(c.DNSNames, tt.dns) {
				t.Errorf("CN %q usages %v IPs %v DNS %v; want %q %v %v %v", c.Subject.CommonName, c.ExtKeyUsage, ips, c.DNSNames, tt.cn, tt.usages, tt.ips, tt.dns)
			}
			for _, u := range tt.usages {
				if _, err := c.Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
					t.Errorf("does not verify against the CA for %v: %v", u, err)
				}
			}
		})
	}

	// The same request keeps every file; another address replaces the
	// server certificates and keeps the client's.
	before := snapshotFiles(t, dir)
	if _, err := EnsureCerts(ca, dir, "node-1", []net.IP{ip, net.ParseIP("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	if after := snapshotFiles(t, dir); !maps.EqualFunc(before, after, bytes.Equal) {
		t.Error("EnsureCerts with the same names rewrote files")
	}
	if _, err := EnsureCerts(ca, dir, "node-1", []net.IP{net.ParseIP("10.0.0.8")}); err != nil {
		t.Fatal(err)
	}
	after := snapshotFiles(t, dir)
	for _, f := range []string{"peer.crt", "peer.key", "server.crt", "server.key"} {
		if bytes.Equal(before[f], after[f]) {
			t.Errorf("%s kept after the address changed", f)
		}
	}
	if !bytes.Equal(before["client.crt"], after["client.crt"]) {
		t.Error("client certificate replaced though nothing about it changed")
	}

	// Another CA's certificates are replaced.
	other := testCA(t)
	if _, err := EnsureCerts(other, dir, "node-1", []net.IP{net.ParseIP("10.0.0.8")}); err != nil {
		t.Fatal(err)
	}
	if _, err := readCert(t, filepath.Join(dir, "client.crt")).Verify(x509.VerifyOptions{Roots: other.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate not reissued by the new CA: %v", err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "ca.crt")), other.CertPEM()) {
		t.Error("ca.crt not replaced by the new CA")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func snapshotFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		out[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return out
}
