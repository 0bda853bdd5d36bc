package serviceaccount

import (
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestDiscoveryDocuments(t *testing.T) {
	f := newFixture(t)
	d, err := NewDiscovery(DefaultIssuer, "", []crypto.PublicKey{f.key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path      string
		code              int
		contentType, body string
	}{
		{
			method: "GET", path: "/.well-known/openid-configuration", code: 200, contentType: "application/json",
			body: `{"issuer":"https://kubernetes.default.svc.cluster.local",` +
				`"jwks_uri":"https://kubernetes.default.svc.cluster.local/openid/v1/jwks",` +
				`"response_types_supported":["id_token"],"subject_types_supported":["public"],` +
				`"id_token_signing_alg_values_supported":["ES256"]}`,
		},
		{method: "GET", path: "/openid/v1/jwks", code: 200, contentType: "application/jwk-set+json", body: string(d.KeysetJSON())},
		{method: "HEAD", path: "/openid/v1/jwks", code: 200, contentType: "application/jwk-set+json"},
		{method: "POST", path: "/openid/v1/jwks", code: 405},
		{method: "GET", path: "/openid/v1/jwks/extra", code: 404},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			d.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("code %d, want %d", rec.Code, tc.code)
			}
			if tc.code != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != "public, max-age=3600" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := rec.Body.String(); got != tc.body {
				t.Errorf("body\n got %s\nwant %s", got, tc.body)
			}
		})
	}
}

// A relying party that knows only the JWKS verifies an issued token with it.
func TestJWKSVerifiesIssuedToken(t *testing.T) {
	f := newFixture(t)
	d, err := NewDiscovery(DefaultIssuer, "", []crypto.PublicKey{f.key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", JWKSPath, nil))

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	tok := f.issue(t, podClaims())
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS %s has %d keys for the token's kid", rec.Body, len(keys))
	}
	k := keys[0]
	if k.Use != "sig" || k.Algorithm != "ES256" || k.KeyID != f.key.ID() || !k.IsPublic() || !k.Valid() {
		t.Errorf("JWK %+v", k)
	}
	body, err := jws.Verify(&k)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(body, &claims); err != nil || claims.Sub != "system:serviceaccount:default:build-bot" {
		t.Fatalf("claims %s: %v", body, err)
	}

	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := jose.ParseSignedCompact(mustIssue(t, mustIssuer(t, "", other), podClaims()), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forged.Verify(&k); err == nil {
		t.Fatal("the JWKS key verified another key's token")
	}
}

func TestDiscoveryWithSeveralKeys(t *testing.T) {
	f := newFixture(t)
	d, err := NewDiscovery("https://issuer.example/cluster/", "https://keys.example/jwks", []crypto.PublicKey{rsaKey(), f.key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"issuer":"https://issuer.example/cluster/","jwks_uri":"https://keys.example/jwks",` +
		`"response_types_supported":["id_token"],"subject_types_supported":["public"],` +
		`"id_token_signing_alg_values_supported":["ES256","RS256"]}`
	if got := string(d.ConfigJSON()); got != want {
		t.Errorf("config\n got %s\nwant %s", got, want)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(d.KeysetJSON(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0]["kty"] != "RSA" || set.Keys[1]["kid"] != f.key.ID() {
		t.Fatalf("keyset %s", d.KeysetJSON())
	}
	for _, k := range set.Keys {
		if _, ok := k["d"]; ok {
			t.Fatalf("keyset %s publishes a private key", d.KeysetJSON())
		}
	}
}

func TestNewDiscoveryRefuses(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := []crypto.PublicKey{key.Public()}
	for _, tc := range []struct {
		issuer, jwks string
		keys         []crypto.PublicKey
		want         string
	}{
		{"http://kubernetes.default.svc", "", keys, "must use https"},
		{"kubernetes/serviceaccount", "", keys, "must use https"},
		{"https://k.example?x=1", "", keys, "query or fragment"},
		{"https://k.example#x", "", keys, "query or fragment"},
		{"https://k.example", "http://k.example/jwks", keys, "JWKS URI requires the https scheme"},
		{"https://k.example", "", nil, "no keys"},
	} {
		_, err := NewDiscovery(tc.issuer, tc.jwks, tc.keys)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewDiscovery(%q, %q): err = %v, want %q", tc.issuer, tc.jwks, err, tc.want)
		}
	}
}

var _ http.Handler = (*Discovery)(nil)
