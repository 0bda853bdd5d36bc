package certificates

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseRequest reads the PKCS #10 request in the first PEM block of
// pemBytes, which must be a CERTIFICATE REQUEST. Its signature is not
// checked.
func ParseRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// checkRequest refuses a request that does not parse or whose signature does
// not verify: its requester must hold the private key.
func checkRequest(pemBytes []byte) error {
	req, err := ParseRequest(pemBytes)
	if err != nil {
		return err
	}
	return req.CheckSignature()
}

// checkCertificates refuses an issued certificate that is not one or more
// PEM CERTIFICATE blocks, without headers, each holding certificates. Empty
// is fine: not issued yet.
func checkCertificates(pemBytes []byte) error {
	if len(pemBytes) == 0 {
		return nil
	}
	blocks := 0
	for rest := pemBytes; ; blocks++ {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		switch {
		case block.Type != "CERTIFICATE":
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		case len(block.Headers) != 0:
			return errors.New("no PEM block headers are permitted")
		}
		certs, err := x509.ParseCertificates(block.Bytes)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return errors.New("found CERTIFICATE PEM block containing 0 certificates")
		}
	}
	if blocks == 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}
