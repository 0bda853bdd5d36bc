package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how close to expiry a certificate may get before an
	// Ensure call replaces it, so a long-running server restarts onto a fresh one.
	renewBefore = 30 * 24 * time.Hour
	// backdate tolerates clocks on other machines running a little behind.
	backdate = time.Hour
)

// CA is the cluster's certificate authority: it signs every other
// certificate this package issues.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer

	// mu serialises Ensure calls so two of them cannot interleave a
	// certificate from one with a key from the other.
	mu sync.Mutex
}

// EnsureCA loads dir/ca.crt and dir/ca.key, or creates both if ca.crt does
// not exist yet. A ca.crt that exists but cannot be used is an error: the CA
// is never replaced behind the user's back.
func EnsureCA(dir string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	// ca.crt is written last, so its presence is what marks a finished CA; a
	// lone ca.key is the remains of a crash and is overwritten.
	if _, err := os.Stat(certFile); err == nil {
		return loadCA(certFile, keyFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("CA certificate %q: %w", certFile, err)
	}
	ca, keyPEM, err := newCA()
	if err != nil {
		return nil, err
	}
	if err := writePair(certFile, keyFile, ca.certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("CA in %q: %w", dir, err)
	}
	return ca, nil
}

func loadCA(certFile, keyFile string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load CA from %q and %q: %w", certFile, keyFile, err)
	}
	if !pair.Leaf.IsCA {
		return nil, fmt.Errorf("load CA from %q: certificate is not a CA", certFile)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load CA from %q: key of type %T cannot sign", keyFile, pair.PrivateKey)
	}
	return &CA{cert: pair.Leaf, certPEM: encodeCert(pair.Leaf.Raw), key: key}, nil
}

func newCA() (*CA, []byte, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: fmt.Sprintf("skiff-ca@%d", now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert, err := create(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-sign CA: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return &CA{cert: cert, certPEM: encodeCert(cert.Raw), key: key}, keyPEM, nil
}

// CertPEM returns the CA certificate, PEM encoded.
func (ca *CA) CertPEM() []byte {
	return append([]byte(nil), ca.certPEM...)
}

// CertPool returns a new pool holding only this CA, for verifying peers.
func (ca *CA) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// CAHash returns "sha256:<hex>" of the SubjectPublicKeyInfo of the first
// certificate in caPEM, the format of kubeadm's
// --discovery-token-ca-cert-hash. It returns "" if caPEM holds no
// parseable certificate, which never matches a real hash.
func CAHash(caPEM []byte) string {
	for rest := caPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return ""
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return ""
		}
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
}

// newKey makes ECDSA P-256 keys: they are quick to generate at first start
// and every Kubernetes client accepts them.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1)) // serials must be positive
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
