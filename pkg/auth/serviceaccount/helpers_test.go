package serviceaccount

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// t0 is when test tokens are issued; they live an hour.
var t0 = time.Unix(1_800_000_000, 0)

// objects is a Getter over "kind/namespace/name" (nodes: "node/name") → UID.
type objects map[string]string

func (o objects) ServiceAccountUID(ns, name string) (string, bool) {
	uid, ok := o["sa/"+ns+"/"+name]
	return uid, ok
}
func (o objects) PodUID(ns, name string) (string, bool) {
	uid, ok := o["pod/"+ns+"/"+name]
	return uid, ok
}
func (o objects) SecretUID(ns, name string) (string, bool) {
	uid, ok := o["secret/"+ns+"/"+name]
	return uid, ok
}
func (o objects) NodeUID(name string) (string, bool) {
	uid, ok := o["node/"+name]
	return uid, ok
}

func clusterObjects() objects {
	return objects{
		"sa/default/build-bot":   "sa-uid",
		"pod/default/web-0":      "pod-uid",
		"secret/default/bot-tok": "secret-uid",
		"node/node-a":            "node-uid",
	}
}

// podClaims are a kubelet's projected token for pod web-0 on node-a.
func podClaims() Claims {
	return Claims{
		Audiences:      []string{DefaultIssuer},
		IssuedAt:       t0,
		Expiry:         t0.Add(time.Hour),
		Namespace:      "default",
		ServiceAccount: Ref{Name: "build-bot", UID: "sa-uid"},
		Pod:            &Ref{Name: "web-0", UID: "pod-uid"},
		Node:           &Ref{Name: "node-a", UID: "node-uid"},
	}
}

type fixture struct {
	key      *Key
	issuer   *Issuer
	objects  objects
	verifier *Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := NewIssuer("", key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{key: key, issuer: issuer, objects: clusterObjects()}
	f.verifier, err = NewVerifier(VerifierConfig{Keys: []crypto.PublicKey{key.Public(), rsaKey().Public()}, Getter: f.objects})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) issue(t testing.TB, c Claims) string {
	t.Helper()
	tok, err := f.issuer.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rsaKey is one RSA key for the whole run: generating them is slow.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// signRaw signs an arbitrary claim set, for tokens Issue refuses to make.
func signRaw(t testing.TB, alg jose.SignatureAlgorithm, private any, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: private, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sig.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawClaims is podClaims as a token's JSON claim set.
func rawClaims() map[string]any {
	return map[string]any{
		"iss": DefaultIssuer,
		"sub": "system:serviceaccount:default:build-bot",
		"aud": []string{DefaultIssuer},
		"iat": t0.Unix(),
		"nbf": t0.Unix(),
		"exp": t0.Add(time.Hour).Unix(),
		"jti": "6f3ed2f8-8d0f-4a8c-9f59-37b1e9f0b3a1",
		"kubernetes.io": map[string]any{
			"namespace":      "default",
			"serviceaccount": map[string]string{"name": "build-bot", "uid": "sa-uid"},
		},
	}
}

// segments splits a compact JWS into its three parts.
func segments(t testing.TB, tok string) (header, payload, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
