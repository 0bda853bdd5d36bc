// Package pkitest makes the keys, certificate requests and certificates
// tests hand to the certificates API: what a user makes with openssl.
package pkitest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Request makes a new ECDSA P-256 key and a certificate request of tmpl
// signed with it, both PEM.
func Request(t testing.TB, tmpl *x509.CertificateRequest) (keyPEM, reqPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// UserRequest is a user's request: CN the name, O the groups.
func UserRequest(t testing.TB, cn string, orgs ...string) (keyPEM, reqPEM []byte) {
	t.Helper()
	return Request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}})
}

// SelfSigned is a self-signed certificate for CN cn valid for the hour up
// to notAfter, PEM.
func SelfSigned(t testing.TB, cn string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
