package etcdmember

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"time"

	"github.com/skiffhq/skiff/pkg/pki"
)

const (
	certValidity = 365 * 24 * time.Hour
	// renewBefore matches pkg/pki: a server restarted within a month of a
	// certificate's expiry starts on a fresh one.
	renewBefore = 30 * 24 * time.Hour
	// backdate tolerates peers whose clocks run a little behind.
	backdate = time.Hour

	// clientCommonName is who the local server is to etcd. etcd only reads
	// it when its own authentication is on, which Skiff leaves off: the CA,
	// which signs nothing else, is the gate.
	clientCommonName = "skiff-etcd-client"
)

// Certs are the files an embedded member and its local client use, all
// signed by one CA, which must sign nothing else.
type Certs struct {
	// CAFile is the members' CA: the only issuer a member trusts, for peers
	// and for clients.
	CAFile string
	// PeerCertFile and PeerKeyFile identify the member to its peers, both
	// when it serves the peer port and when it connects to another member's.
	PeerCertFile, PeerKeyFile string
	// ServerCertFile and ServerKeyFile serve the client port.
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile are what a Skiff server presents to
	// etcd's client port.
	ClientCertFile, ClientKeyFile string
}

// EnsureCerts issues under dir, or keeps while they are still good, the
// certificates of the member called name that is reached at ips: a peer
// certificate (server and client use), a serving certificate for the client
// port and a client certificate for the local Skiff server, plus ca.crt.
// Both server certificates name ips, 127.0.0.1, ::1 and "localhost". A
// certificate is kept while the CA signed it for exactly these names and it
// has more than 30 days left; otherwise it is replaced, and so a member whose
// address changed gets certificates for its new one. Keys are written 0600.
//
// The peer certificate must name the address this host connects to other
// members from, since a member checks that a connecting peer's certificate
// names the address the connection comes from: pass every address the host
// may use, not only the advertised one.
func EnsureCerts(ca *pki.CA, dir, name string, ips []net.IP) (Certs, error) {
	if name == "" {
		return Certs{}, errors.New("etcd certificates: empty member name")
	}
	c := CertsIn(dir)
	caPEM := ca.CertPEM()
	if old, err := os.ReadFile(c.CAFile); err != nil || !bytes.Equal(old, caPEM) {
		if err := pki.WriteFileAtomic(c.CAFile, caPEM, 0o644); err != nil {
			return Certs{}, fmt.Errorf("etcd certificates: %w", err)
		}
	}

	hosts := []string{"localhost"}
	addrs := sanIPs(ips)
	leaves := []struct {
		certFile, keyFile string
		tmpl              x509.Certificate
	}{
		{c.PeerCertFile, c.PeerKeyFile, x509.Certificate{
			Subject:     pkix.Name{CommonName: name},
			DNSNames:    hosts,
			IPAddresses: addrs,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}},
		{c.ServerCertFile, c.ServerKeyFile, x509.Certificate{
			Subject:     pkix.Name{CommonName: name},
			DNSNames:    hosts,
			IPAddresses: addrs,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}},
		// No alternative names: a member checks a client's names against
		// the address it connects from, and the client cert is one cert for
		// every address.
		{c.ClientCertFile, c.ClientKeyFile, x509.Certificate{
			Subject:     pkix.Name{CommonName: clientCommonName},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
	}
	pool := ca.CertPool()
	for _, l := range leaves {
		if reusable(l.certFile, l.keyFile, pool, &l.tmpl) {
			continue
		}
		if err := issue(ca, l.certFile, l.keyFile, &l.tmpl); err != nil {
			return Certs{}, fmt.Errorf("etcd certificates for member %q: %w", name, err)
		}
	}
	return c, nil
}

// sanIPs is ips plus the loopback addresses, each once.
func sanIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range append(slices.Clone(ips), net.IPv4(127, 0, 0, 1), net.IPv6loopback) {
		if ip == nil || slices.ContainsFunc(out, ip.Equal) {
			continue
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		out = append(out, ip)
	}
	return out
}

func issue(ca *pki.CA, certFile, keyFile string, tmpl *x509.Certificate) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	now := time.Now()
	t := *tmpl
	t.NotBefore, t.NotAfter = now.Add(-backdate), now.Add(certValidity)
	t.KeyUsage = x509.KeyUsageDigitalSignature
	certPEM, err := ca.SignTemplate(&t, key.Public())
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	// The key goes first: a crash in between leaves a pair that does not
	// match, which the next call replaces.
	if err := pki.WriteFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return pki.WriteFileAtomic(certFile, certPEM, 0o644)
}

// reusable reports whether the pair on disk chains to the CA, is good for a
// while yet and was issued for exactly what want asks. Anything else,
// including a missing file, means it is issued again.
func reusable(certFile, keyFile string, roots *x509.CertPool, want *x509.Certificate) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return false
	}
	got := pair.Leaf
	now := time.Now()
	for _, usage := range want.ExtKeyUsage {
		if _, err := got.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: now}); err != nil {
			return false
		}
	}
	if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
		return false
	}
	return now.Add(renewBefore).Before(got.NotAfter) &&
		got.Subject.CommonName == want.Subject.CommonName &&
		sameSet(got.DNSNames, want.DNSNames, func(a, b string) bool { return a == b }) &&
		sameSet(got.IPAddresses, want.IPAddresses, net.IP.Equal)
}

func sameSet[T any](a, b []T, eq func(T, T) bool) bool {
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y T) bool { return eq(x, y) }) {
			return false
		}
	}
	for _, y := range b {
		if !slices.ContainsFunc(a, func(x T) bool { return eq(x, y) }) {
			return false
		}
	}
	return true
}

// clientTLS is the TLS a client of the members' client ports uses: the
// client certificate, and the members' CA as the only root.
func (c Certs) clientTLS() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate %q: %w", c.ClientCertFile, err)
	}
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("etcd CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("etcd CA %q: no certificate in it", c.CAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

func (c Certs) check() error {
	for _, f := range []string{c.CAFile, c.PeerCertFile, c.PeerKeyFile, c.ServerCertFile, c.ServerKeyFile, c.ClientCertFile, c.ClientKeyFile} {
		if f == "" {
			return errors.New("certificates not set: call EnsureCerts")
		}
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("certificate file %q is missing: call EnsureCerts", f)
		}
	}
	return nil
}
