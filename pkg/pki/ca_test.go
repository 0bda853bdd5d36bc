package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEnsureCAGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "pki")
	ca, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantMode(t, dir, 0o700)
	wantMode(t, filepath.Join(dir, "ca.key"), 0o600)
	wantMode(t, filepath.Join(dir, "ca.crt"), 0o644)
	wantEntries(t, dir, "ca.crt", "ca.key")

	onDisk := readFile(t, filepath.Join(dir, "ca.crt"))
	if string(onDisk) != string(ca.CertPEM()) {
		t.Errorf("CertPEM differs from ca.crt")
	}
	cert := parseCert(t, onDisk)
	if !strings.HasPrefix(cert.Subject.CommonName, "skiff-ca@") {
		t.Errorf("CN = %q, want skiff-ca@<unix time>", cert.Subject.CommonName)
	}
	if !cert.IsCA {
		t.Error("certificate is not a CA")
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	if d := time.Until(cert.NotAfter) - 10*365*24*time.Hour; d < -time.Hour || d > time.Hour {
		t.Errorf("NotAfter %v is not ten years away", cert.NotAfter)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
}

func TestEnsureCAReuses(t *testing.T) {
	dir := t.TempDir()
	first, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := readFile(t, filepath.Join(dir, "ca.key"))
	second, err := EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.CertPEM()) != string(second.CertPEM()) || string(key) != string(readFile(t, filepath.Join(dir, "ca.key"))) {
		t.Fatal("second EnsureCA replaced the CA")
	}
	// The reloaded CA must be able to sign, and what it signs must chain to
	// the first one.
	certPEM, _, err := second.SignClient("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, first, parseCert(t, certPEM), x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth)
}

func TestEnsureCAStates(t *testing.T) {
	_, otherKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	mine, mineKey, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, leafKey, err := mine.SignServing("x", []string{"x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		crt, key []byte // nil: file absent
		wantErr  bool
		wantCrt  []byte // ca.crt afterwards; nil: a newly generated CA
	}{
		{name: "loads existing", crt: mine.certPEM, key: mineKey, wantCrt: mine.certPEM},
		{name: "lone key left by a crash is replaced", key: mineKey},
		{name: "certificate without key", crt: mine.certPEM, wantErr: true, wantCrt: mine.certPEM},
		{name: "key of another CA", crt: mine.certPEM, key: otherKey, wantErr: true, wantCrt: mine.certPEM},
		{name: "corrupt certificate", crt: []byte("not pem"), key: mineKey, wantErr: true, wantCrt: []byte("not pem")},
		{name: "certificate is not a CA", crt: leaf, key: leafKey, wantErr: true, wantCrt: leaf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.crt != nil {
				writeFile(t, filepath.Join(dir, "ca.crt"), tt.crt)
			}
			if tt.key != nil {
				writeFile(t, filepath.Join(dir, "ca.key"), tt.key)
			}
			ca, err := EnsureCA(dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("EnsureCA error = %v, want error %v", err, tt.wantErr)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
			switch {
			case tt.wantCrt != nil && string(got) != string(tt.wantCrt):
				t.Errorf("ca.crt was changed")
			case tt.wantCrt == nil && (string(got) == string(mine.certPEM) || string(got) != string(ca.CertPEM())):
				t.Errorf("ca.crt is not a freshly generated CA")
			}
		})
	}
}

func TestCAHash(t *testing.T) {
	// vectorCA and vectorHash come from openssl, with the command kubeadm
	// documents: openssl x509 -pubkey -noout | openssl pkey -pubin
	// -outform der | openssl dgst -sha256 -hex
	const vectorHash = "sha256:306df722865017f7df197755ca295941545d381f9744dd9b6ed78a179bb91172"
	ca := newTestCA(t)
	_, keyPEM, err := newCA()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"openssl vector", []byte(vectorCA), vectorHash},
		{"key block before certificate", append(keyPEM, vectorCA...), vectorHash},
		{"not PEM", []byte("hello"), ""},
		{"empty", nil, ""},
		{"PEM without certificate", keyPEM, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CAHash(tt.in); got != tt.want {
				t.Errorf("CAHash = %q, want %q", got, tt.want)
			}
		})
	}

	h := CAHash(ca.CertPEM())
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(h) {
		t.Errorf("CAHash = %q, want sha256:<64 hex>", h)
	}
	if CAHash(ca.CertPEM()) != h {
		t.Error("CAHash is not stable")
	}
	if h == CAHash([]byte(vectorCA)) {
		t.Error("two CAs share a hash")
	}
}

const vectorCA = `-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUCcuJTL0yJRc70qWAq3EqZ3j9mPswCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJdmVjdG9yLWNhMB4XDTI2MTEyNjIxMjcyOVoXDTM2MTEyMzIx
MjcyOVowFDESMBAGA1UEAwwJdmVjdG9yLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEiDuIF8Uz8QruO9OD8+4MuWDPn/9NNsDq4IXegE6NxEpPbDr0zxN9qQye
AHFnNim0cdywW81NmPyz4Sn9d0MGtKNTMFEwHQYDVR0OBBYEFF/04+dRFNwgHl4J
E8jSjkp4WasqMB8GA1UdIwQYMBaAFF/04+dRFNwgHl4JE8jSjkp4WasqMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgGt7lZWllFeQCTGtYyTKOPlcm
5RwA6xCuW1Sl8mbBB/kCIQDH7g0DzpO+q3SYt47etAgnqWUrYmEKUh3HleAdMdAD
jg==
-----END CERTIFICATE-----
`
