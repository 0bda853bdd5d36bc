package csrsigning

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

const (
	// backdate starts a certificate a little in the past, for the clocks of
	// the machines that check it.
	backdate = 5 * time.Minute
	// shortLived certificates end when asked: five minutes off a short life
	// would be much of it. Longer ones pay for their backdating at the end.
	shortLived = 8 * time.Hour
)

// keyUsages and extKeyUsages map the API's usages to X.509's; "signing" is
// a digital signature, "s/mime" email protection.
var (
	keyUsages = map[certificatesv1.KeyUsage]x509.KeyUsage{
		certificatesv1.UsageSigning:           x509.KeyUsageDigitalSignature,
		certificatesv1.UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
		certificatesv1.UsageContentCommitment: x509.KeyUsageContentCommitment,
		certificatesv1.UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
		certificatesv1.UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
		certificatesv1.UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
		certificatesv1.UsageCertSign:          x509.KeyUsageCertSign,
		certificatesv1.UsageCRLSign:           x509.KeyUsageCRLSign,
		certificatesv1.UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
		certificatesv1.UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
	}
	extKeyUsages = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
		certificatesv1.UsageAny:             x509.ExtKeyUsageAny,
		certificatesv1.UsageServerAuth:      x509.ExtKeyUsageServerAuth,
		certificatesv1.UsageClientAuth:      x509.ExtKeyUsageClientAuth,
		certificatesv1.UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
		certificatesv1.UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
		certificatesv1.UsageSMIME:           x509.ExtKeyUsageEmailProtection,
		certificatesv1.UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
		certificatesv1.UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
		certificatesv1.UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
		certificatesv1.UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
		certificatesv1.UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
		certificatesv1.UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
		certificatesv1.UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
	}
)

// template is the certificate a request gets, issued at now to last ttl:
// the request's subject and alternative names, the usages approved, and none
// of the extensions the requester asked for beyond those.
func template(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, ttl time.Duration, now time.Time) (*x509.Certificate, error) {
	t := &x509.Certificate{
		Subject:            req.Subject,
		DNSNames:           req.DNSNames,
		IPAddresses:        req.IPAddresses,
		EmailAddresses:     req.EmailAddresses,
		URIs:               req.URIs,
		PublicKeyAlgorithm: req.PublicKeyAlgorithm,
		NotBefore:          now.Add(-backdate),
		NotAfter:           now.Add(ttl),
	}
	if ttl >= shortLived {
		t.NotAfter = t.NotAfter.Add(-backdate)
	}
	var unknown []certificatesv1.KeyUsage
	for _, u := range usages {
		if ku, ok := keyUsages[u]; ok {
			t.KeyUsage |= ku
		} else if eku, ok := extKeyUsages[u]; ok {
			if !slices.Contains(t.ExtKeyUsage, eku) {
				t.ExtKeyUsage = append(t.ExtKeyUsage, eku)
			}
		} else {
			unknown = append(unknown, u)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unrecognized usage values: %q", unknown)
	}
	slices.Sort(t.ExtKeyUsage)
	return t, nil
}
