package pki

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// EnsureServing returns dir/name.crt and dir/name.key, a server certificate
// for hosts and ips. The files on disk are kept while this CA signed them,
// they have more than 30 days to live and they cover every requested name;
// otherwise they are replaced. Entries of hosts that parse as IP addresses
// are treated as IPs.
func (ca *CA) EnsureServing(dir, name string, hosts []string, ips []net.IP) (certFile, keyFile string, err error) {
	hosts, ips = splitHosts(hosts, ips)
	if len(hosts) == 0 && len(ips) == 0 {
		return "", "", fmt.Errorf("serving certificate %q: no hosts or IPs", name)
	}
	covers := func(c *x509.Certificate) bool {
		for _, h := range hosts {
			if !slices.ContainsFunc(c.DNSNames, func(d string) bool { return strings.EqualFold(d, h) }) {
				return false
			}
		}
		for _, ip := range ips {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		}
		return true
	}
	return ca.ensure(dir, name, x509.ExtKeyUsageServerAuth, covers, func() ([]byte, []byte, error) {
		return ca.SignServing(name, hosts, ips)
	})
}

// EnsureClient returns dir/name.crt and dir/name.key, a client certificate
// that authenticates as user commonName in groups organizations (for the
// admin: "system:admin" in "system:masters"). The files on disk are kept
// while this CA signed them for exactly that user and those groups and they
// have more than 30 days to live; otherwise they are replaced.
func (ca *CA) EnsureClient(dir, name, commonName string, organizations []string) (certFile, keyFile string, err error) {
	if commonName == "" {
		return "", "", fmt.Errorf("client certificate %q: empty common name", name)
	}
	want := sortedCopy(organizations)
	same := func(c *x509.Certificate) bool {
		return c.Subject.CommonName == commonName && slices.Equal(sortedCopy(c.Subject.Organization), want)
	}
	return ca.ensure(dir, name, x509.ExtKeyUsageClientAuth, same, func() ([]byte, []byte, error) {
		return ca.SignClient(commonName, organizations)
	})
}

// SignServing issues a new key and a one-year server certificate for hosts
// and ips.
func (ca *CA) SignServing(commonName string, hosts []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	return ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		DNSNames:    hosts,
		IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// SignClient issues a new key and a one-year client certificate for user
// commonName in groups organizations.
func (ca *CA) SignClient(commonName string, organizations []string) (certPEM, keyPEM []byte, err error) {
	return ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName, Organization: organizations},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// sign fills in what every leaf shares; a template that already has a
// validity window keeps it.
func (ca *CA) sign(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	if tmpl.NotAfter.IsZero() {
		now := time.Now()
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-backdate), now.Add(leafValidity)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	cert, err := create(tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(cert.Raw), keyPEM, nil
}

func (ca *CA) ensure(dir, name string, usage x509.ExtKeyUsage, wanted func(*x509.Certificate) bool, issue func() ([]byte, []byte, error)) (certFile, keyFile string, err error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", "", fmt.Errorf("certificate name %q: must be a plain file name", name)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.reusable(certFile, keyFile, usage, wanted) {
		return certFile, keyFile, nil
	}
	certPEM, keyPEM, err := issue()
	if err != nil {
		return "", "", err
	}
	if err := writePair(certFile, keyFile, certPEM, keyPEM); err != nil {
		return "", "", fmt.Errorf("certificate %q: %w", name, err)
	}
	return certFile, keyFile, nil
}

// reusable reports whether the pair on disk can stay. Anything wrong with it,
// including not existing, means it is replaced: leaves are cheap to reissue.
func (ca *CA) reusable(certFile, keyFile string, usage x509.ExtKeyUsage, wanted func(*x509.Certificate) bool) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return false
	}
	leaf := pair.Leaf
	now := time.Now()
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:       ca.CertPool(),
		KeyUsages:   []x509.ExtKeyUsage{usage},
		CurrentTime: now,
	})
	return err == nil && now.Add(renewBefore).Before(leaf.NotAfter) && wanted(leaf)
}

func splitHosts(hosts []string, ips []net.IP) ([]string, []net.IP) {
	var names []string
	all := slices.Clone(ips)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			all = append(all, ip)
		} else if h != "" {
			names = append(names, h)
		}
	}
	return names, all
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
