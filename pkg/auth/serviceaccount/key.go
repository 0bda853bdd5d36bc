package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the name of the signing key in the directory LoadOrCreateKey
// is given.
const KeyFile = "sa.key"

// Key is an ECDSA P-256 signing key and its key ID.
type Key struct {
	private *ecdsa.PrivateKey
	id      string
}

// GenerateKey makes a new key that lives only in memory.
func GenerateKey() (*Key, error) {
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate service account signing key: %w", err)
	}
	return newKey(private)
}

func newKey(private *ecdsa.PrivateKey) (*Key, error) {
	id, err := KeyID(&private.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{private: private, id: id}, nil
}

// LoadOrCreateKey returns the key in dir/sa.key, creating it (and dir, 0700)
// when there is none. The file is PEM (PKCS#8, or SEC 1 "EC PRIVATE KEY" as
// kube-apiserver's --service-account-signing-key-file also accepts), 0600,
// and appears whole or not at all: when two processes race to create it,
// both end up with the one that landed first.
func LoadOrCreateKey(dir string) (*Key, error) {
	path := filepath.Join(dir, KeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		return parseKey(path, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read service account signing key: %w", err)
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key.private)
	if err != nil {
		return nil, fmt.Errorf("encode service account signing key: %w", err)
	}
	err = createExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our write: use theirs.
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read service account signing key: %w", err)
		}
		return parseKey(path, data)
	}
	if err != nil {
		return nil, err
	}
	return key, nil
}

func parseKey(path string, data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("service account signing key %q: no PEM block", path)
	}
	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("service account signing key %q: unexpected PEM block %q", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("service account signing key %q: %w", path, err)
	}
	private, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || private.Curve != elliptic.P256() {
		return nil, fmt.Errorf("service account signing key %q: not an ECDSA P-256 key", path)
	}
	return newKey(private)
}

// createExclusive writes data to path only if path does not exist yet
// (fs.ErrExist otherwise). It writes a temporary file and hard-links it into
// place, so that readers never see a partial key and a concurrent creator
// cannot be overwritten.
func createExclusive(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %q: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	defer os.Remove(f.Name())
	// Chmod rather than trust the umask, and before writing, so that the
	// key is never readable by others, even briefly.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.Name(), path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("write %q: %w", path, err)
	}
	// Make the link durable; not every filesystem supports this.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ID is the key ID that tokens signed with the key carry in their "kid"
// header and the JWKS lists the key under.
func (k *Key) ID() string { return k.id }

// Public is the public half of the key, for a Verifier and Discovery.
func (k *Key) Public() crypto.PublicKey { return &k.private.PublicKey }

// KeyID derives a key ID from a public key as upstream does: the unpadded
// base64url SHA-256 of its PKIX DER form. It cannot be turned back into the
// key, so nobody mistakes it for one.
func KeyID(public crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(public)
	if err != nil {
		return "", fmt.Errorf("derive key ID: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
