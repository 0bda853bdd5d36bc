package csrsigning

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// check says why a signer may not sign a request, or nil when it may.
type check func(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error

// checks are the signers this controller signs for, each with what it
// requires of a request.
var checks = map[string]check{
	certificatesv1.KubeAPIServerClientSignerName:        clientUsages,
	certificatesv1.KubeAPIServerClientKubeletSignerName: kubeletClient,
	certificatesv1.KubeletServingSignerName:             kubeletServing,
	// Kept as it was before signers had rules of their own.
	certificatesv1beta1.LegacyUnknownSignerName: func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error { return nil },
}

// Signers lists the signer names this controller signs for, sorted.
func Signers() []string {
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

const (
	nodesGroup      = "system:nodes"
	nodeUserPrefix  = "system:node:"
	errNotNodes     = "subject organization is not system:nodes"
	errNotANode     = "subject common name does not begin with system:node:"
	errNoServerName = "DNS or IP subjectAltName is required"
)

// The usages a kubelet's certificates carry; keys other than RSA ones do not
// encipher keys, so key encipherment may be left out.
var (
	kubeletClientUsages  = sets.New(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth)
	kubeletServingUsages = sets.New(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth)
)

// clientUsages is kube-apiserver-client's rule: a client certificate for
// any user, good for client auth (and the digital signature and key
// encipherment that takes), and for nothing else.
func clientUsages(_ *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth:
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	if !slices.Contains(usages, certificatesv1.UsageClientAuth) {
		return fmt.Errorf("missing required usage for client certificate: %s", certificatesv1.UsageClientAuth)
	}
	return nil
}

// kubeletClient is kube-apiserver-client-kubelet's rule: a node's client
// certificate, system:node:NAME in system:nodes, with no alternative names.
func kubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	switch {
	case !slices.Equal(req.Subject.Organization, []string{nodesGroup}):
		return errors.New(errNotNodes)
	case len(req.DNSNames) > 0:
		return errors.New("DNS subjectAltNames are not allowed")
	case len(req.EmailAddresses) > 0:
		return errors.New("Email subjectAltNames are not allowed")
	case len(req.IPAddresses) > 0:
		return errors.New("IP subjectAltNames are not allowed")
	case len(req.URIs) > 0:
		return errors.New("URI subjectAltNames are not allowed")
	case !strings.HasPrefix(req.Subject.CommonName, nodeUserPrefix):
		return errors.New(errNotANode)
	}
	return kubeletUsages(usages, kubeletClientUsages, certificatesv1.UsageClientAuth)
}

// kubeletServing is kubelet-serving's rule: a node's serving certificate,
// system:node:NAME in system:nodes, for DNS names or IP addresses only.
func kubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	switch {
	case !slices.Equal(req.Subject.Organization, []string{nodesGroup}):
		return errors.New(errNotNodes)
	case len(req.DNSNames) == 0 && len(req.IPAddresses) == 0:
		return errors.New(errNoServerName)
	case len(req.EmailAddresses) > 0:
		return errors.New("Email subjectAltNames are not allowed")
	case len(req.URIs) > 0:
		return errors.New("URI subjectAltNames are not allowed")
	}
	if err := kubeletUsages(usages, kubeletServingUsages, certificatesv1.UsageServerAuth); err != nil {
		return err
	}
	if !strings.HasPrefix(req.Subject.CommonName, nodeUserPrefix) {
		return errors.New(errNotANode)
	}
	return nil
}

// kubeletUsages accepts exactly full, or full without key encipherment.
func kubeletUsages(usages []certificatesv1.KeyUsage, full sets.Set[certificatesv1.KeyUsage], auth certificatesv1.KeyUsage) error {
	got := sets.New(usages...)
	if got.Equal(full) || got.Equal(sets.New(certificatesv1.UsageDigitalSignature, auth)) {
		return nil
	}
	return fmt.Errorf("usages did not match %v", sets.List(full))
}
