package join

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/skiffhq/skiff/pkg/pki"
)

// tokenPrefix marks a token that carries the CA hash; the format is
// K10<sha256 of the CA's public key, hex>::server:<secret>.
const tokenPrefix = "K10"

// Token is a parsed join token.
type Token struct {
	// CAHash is "sha256:<hex>" of the cluster CA's public key.
	CAHash string
	// Secret is what the server checks.
	Secret string
}

// String is the token as the server writes it and users copy it.
func (t Token) String() string {
	return tokenPrefix + strings.TrimPrefix(t.CAHash, "sha256:") + "::server:" + t.Secret
}

// ParseToken reads a token written by EnsureToken.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	const help = "expected K10<CA hash>::server:<secret>, as in the server's DATA_DIR/server/token"
	if !strings.HasPrefix(s, tokenPrefix) {
		return Token{}, fmt.Errorf("malformed join token: %s", help)
	}
	hash, secret, ok := strings.Cut(strings.TrimPrefix(s, tokenPrefix), "::server:")
	if !ok || secret == "" {
		return Token{}, fmt.Errorf("malformed join token: %s", help)
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 {
		return Token{}, fmt.Errorf("malformed join token: the CA hash is not 64 hex digits; %s", help)
	}
	return Token{CAHash: "sha256:" + hash, Secret: secret}, nil
}

// EnsureToken returns the server's join token, kept in path (mode 0600). The
// secret is made once and kept across restarts; the hash always names caPEM.
func EnsureToken(path string, caPEM []byte) (Token, error) {
	t := Token{CAHash: pki.CAHash(caPEM)}
	if t.CAHash == "" {
		return Token{}, errors.New("join token: the cluster CA certificate cannot be parsed")
	}
	if b, err := os.ReadFile(path); err == nil {
		if old, err := ParseToken(string(b)); err == nil {
			t.Secret = old.Secret
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return Token{}, fmt.Errorf("join token: %w", err)
	}
	if t.Secret == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return Token{}, err
		}
		t.Secret = hex.EncodeToString(b)
	}
	if err := pki.WriteFileAtomic(path, []byte(t.String()+"\n"), 0o600); err != nil {
		return Token{}, fmt.Errorf("join token: %w", err)
	}
	return t, nil
}

// LoadOrMakePassword returns the node password kept in path, or a new random
// one (not yet written: see SavePassword).
func LoadOrMakePassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("node password: %w", err)
	}
	r := make([]byte, 16)
	if _, err := rand.Read(r); err != nil {
		return "", err
	}
	return hex.EncodeToString(r), nil
}

// SavePassword keeps the node password in path (mode 0600).
func SavePassword(path, password string) error {
	return pki.WriteFileAtomic(path, []byte(password+"\n"), 0o600)
}
