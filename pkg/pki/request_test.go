package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSignTemplate: a certificate for someone else's key, as a CSR signer
// issues it: the template's subject, names, usages and validity, a leaf of
// this CA, never outliving it.
func TestSignTemplate(t *testing.T) {
	ca := newTestCA(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "alice", Organization: []string{"devs"}},
		DNSNames:    []string{"alice.example.com"},
		IPAddresses: []net.IP{net.ParseIP("10.0.0.7")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore:   now.Add(-5 * time.Minute),
		NotAfter:    now.Add(time.Hour),
		IsCA:        true, // a signer's template cannot make a CA
	}
	certPEM, err := ca.SignTemplate(tmpl, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, certPEM)
	verify(t, ca, cert, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth)
	if cert.Subject.CommonName != "alice" || !slices.Equal(cert.Subject.Organization, []string{"devs"}) ||
		!slices.Equal(cert.DNSNames, []string{"alice.example.com"}) || len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("10.0.0.7")) {
		t.Errorf("subject %v, names %v %v", cert.Subject, cert.DNSNames, cert.IPAddresses)
	}
	if cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("IsCA %v, basic constraints %v, key usage %v: want a leaf for digital signature", cert.IsCA, cert.BasicConstraintsValid, cert.KeyUsage)
	}
	if !cert.NotBefore.Equal(tmpl.NotBefore) || !cert.NotAfter.Equal(tmpl.NotAfter) {
		t.Errorf("valid %v to %v, want %v to %v", cert.NotBefore, cert.NotAfter, tmpl.NotBefore, tmpl.NotAfter)
	}
	if !tmpl.IsCA || tmpl.SerialNumber != nil {
		t.Error("the template was changed")
	}

	// Beyond the CA's life, the certificate ends with it.
	long := *tmpl
	long.NotAfter = now.Add(20 * 365 * 24 * time.Hour)
	certPEM, err = ca.SignTemplate(&long, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got := parseCert(t, certPEM).NotAfter; !got.Equal(ca.cert.NotAfter) {
		t.Errorf("a certificate outliving the CA ends %v, want the CA's end %v", got, ca.cert.NotAfter)
	}
	late := *tmpl
	late.NotBefore = ca.cert.NotAfter.Add(time.Hour)
	if _, err := ca.SignTemplate(&late, key.Public()); err == nil || !strings.Contains(err.Error(), "after the CA expires") {
		t.Errorf("a certificate starting after the CA ends: %v", err)
	}
	expired := &CA{cert: &x509.Certificate{NotAfter: now.Add(-time.Minute)}, key: ca.key}
	if _, err := expired.SignTemplate(tmpl, key.Public()); err == nil || !strings.Contains(err.Error(), "the CA expired") {
		t.Errorf("an expired CA signs: %v", err)
	}
}
