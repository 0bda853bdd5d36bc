package serviceaccount

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer signs service account tokens with one Key. It is safe for
// concurrent use.
type Issuer struct {
	url    string
	signer jose.Signer
}

// NewIssuer returns an Issuer that writes url ("" for DefaultIssuer) as the
// tokens' "iss" and signs them with key (ES256, the key's ID as "kid").
func NewIssuer(url string, key *Key) (*Issuer, error) {
	if url == "" {
		url = DefaultIssuer
	}
	if key == nil {
		return nil, errors.New("service account issuer: no signing key")
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.ES256,
		Key: &jose.JSONWebKey{
			Algorithm: string(jose.ES256),
			Key:       key.private,
			KeyID:     key.id,
			Use:       "sig",
		},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("service account issuer: %w", err)
	}
	return &Issuer{url: url, signer: signer}, nil
}

// URL is the "iss" the Issuer writes.
func (i *Issuer) URL() string { return i.url }

// Issue signs c as a token. Its Issuer is replaced by the Issuer's URL (as
// upstream's, whose own "iss" takes precedence); an empty ID becomes a random
// UUID, empty Audiences the Issuer's URL (the default API audience), a zero
// IssuedAt now and a zero NotBefore IssuedAt. The caller decides Expiry,
// which must come after IssuedAt, and the bound object: a Pod (optionally
// with its Node), a Secret, a Node, or none.
func (i *Issuer) Issue(c Claims) (string, error) {
	c.Issuer = i.url
	if c.ID == "" {
		c.ID = newUUID()
	}
	if len(c.Audiences) == 0 {
		c.Audiences = []string{i.url}
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	if err := checkIssuable(&c); err != nil {
		return "", fmt.Errorf("issue token for service account %q in namespace %q: %w", c.ServiceAccount.Name, c.Namespace, err)
	}
	body, err := json.Marshal(toPayload(&c))
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	sig, err := i.signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return sig.CompactSerialize()
}

func checkIssuable(c *Claims) error {
	switch {
	case c.Namespace == "" || c.ServiceAccount.Name == "" || c.ServiceAccount.UID == "":
		return errors.New("the namespace and the service account's name and UID are required")
	case c.Expiry.IsZero():
		return errors.New("no expiry")
	case !c.Expiry.After(c.IssuedAt):
		return errors.New("expiry is not after issued-at")
	case c.Secret != nil && (c.Pod != nil || c.Node != nil):
		// As upstream's: a token can only be bound to one object type.
		return errors.New("a token can only be bound to one object type")
	case c.Pod != nil && (c.Pod.Name == "" || c.Pod.UID == ""),
		c.Secret != nil && (c.Secret.Name == "" || c.Secret.UID == ""),
		c.Node != nil && c.Node.Name == "",
		c.Node != nil && c.Pod == nil && c.Node.UID == "":
		// Only a pod's node may lack a UID: upstream binds the node's name
		// alone when the node object is not found.
		return errors.New("a bound object needs its name and UID")
	}
	return nil
}

// newUUID is a random (version 4) UUID, as upstream's uuid.NewString.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails; crypto/rand crashes the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
