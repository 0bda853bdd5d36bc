package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"
)

// SignTemplate issues a certificate, PEM encoded, for pub as tmpl describes
// it: what a signer read from someone else's certificate signing request
// (subject, alternative names, key usages, validity), whose private key this
// CA never sees. The CA sets the serial number and marks the certificate a
// leaf; a validity that would outlast the CA ends with it, and a CA that has
// expired signs nothing. tmpl is not changed.
func (ca *CA) SignTemplate(tmpl *x509.Certificate, pub crypto.PublicKey) ([]byte, error) {
	t := *tmpl
	t.BasicConstraintsValid, t.IsCA = true, false
	t.MaxPathLen, t.MaxPathLenZero = 0, false
	caEnd := ca.cert.NotAfter
	switch {
	case !time.Now().Before(caEnd):
		return nil, fmt.Errorf("sign certificate for %q: the CA expired at %v", t.Subject.CommonName, caEnd)
	case !t.NotBefore.Before(caEnd):
		return nil, fmt.Errorf("sign certificate for %q: it would start at %v, after the CA expires at %v", t.Subject.CommonName, t.NotBefore, caEnd)
	case t.NotAfter.After(caEnd):
		t.NotAfter = caEnd
	}
	cert, err := create(&t, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %q: %w", t.Subject.CommonName, err)
	}
	return encodeCert(cert.Raw), nil
}
