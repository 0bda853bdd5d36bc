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
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKeyPersistsAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "sa")
	first, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantMode(t, dir, 0o700)
	wantMode(t, filepath.Join(dir, "sa.key"), 0o600)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v, want only sa.key", entries)
	}

	second, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID() != first.ID() || !second.private.Equal(first.private) {
		t.Fatalf("second call made another key: %s, first %s", second.ID(), first.ID())
	}

	// A token signed before a restart verifies after it.
	issuer, err := NewIssuer("", first)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := issuer.Issue(podClaims())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Keys: []crypto.PublicKey{second.Public()}, Getter: clusterObjects()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok, t0); err != nil {
		t.Fatal(err)
	}
}

func TestKeyIDIsUpstreams(t *testing.T) {
	key, err := LoadOrCreateKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); key.ID() != want || len(want) != 43 {
		t.Fatalf("kid %q, want %q", key.ID(), want)
	}
}

func TestLoadOrCreateKeyReadsSEC1(t *testing.T) {
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(private)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeKeyFile(t, dir, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	key, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !key.private.Equal(private) {
		t.Fatal("loaded another key than the one on disk")
	}
}

// A key that cannot be loaded is an error, never replaced: tokens already
// handed out depend on it.
func TestLoadOrCreateKeyRefusesBadKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"garbage", "not a key", "no PEM block"},
		{"certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), `unexpected PEM block "CERTIFICATE"`},
		{"corrupt", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})), "sa.key"},
		{"P-384", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})), "not an ECDSA P-256 key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeKeyFile(t, dir, []byte(tc.content))
			_, err := LoadOrCreateKey(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "sa.key")); string(got) != tc.content {
				t.Fatal("the key file was replaced")
			}
		})
	}
}

func writeKeyFile(t *testing.T, dir string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}

// Processes starting together end up with one key between them.
func TestLoadOrCreateKeyConcurrently(t *testing.T) {
	dir := t.TempDir()
	ids := make(chan string, 8)
	for range 8 {
		go func() {
			key, err := LoadOrCreateKey(dir)
			if err != nil {
				t.Error(err)
				ids <- ""
				return
			}
			ids <- key.ID()
		}()
	}
	first := <-ids
	for range 7 {
		if id := <-ids; id != first {
			t.Fatalf("key IDs %q and %q: two keys were created", first, id)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v, want only sa.key", entries)
	}
}
