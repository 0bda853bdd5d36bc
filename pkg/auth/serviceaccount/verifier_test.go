package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestIssueVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name      string
		claims    func(*Claims)
		wantExtra map[string][]string // besides the credential ID
	}{
		{
			name: "pod on a node",
			claims: func(c *Claims) {
				c.Audiences = []string{DefaultIssuer, "vault"}
				c.WarnAfter = t0.Add(WarnOnlyExpirationSeconds * time.Second)
				c.Expiry = t0.Add(ExtendedExpirationSeconds * time.Second)
			},
			wantExtra: map[string][]string{
				PodNameKey: {"web-0"}, PodUIDKey: {"pod-uid"},
				NodeNameKey: {"node-a"}, NodeUIDKey: {"node-uid"},
			},
		},
		{
			name: "pod on a node that was not found at issue time",
			claims: func(c *Claims) {
				c.Node = &Ref{Name: "node-gone"}
			},
			wantExtra: map[string][]string{
				PodNameKey: {"web-0"}, PodUIDKey: {"pod-uid"}, NodeNameKey: {"node-gone"},
			},
		},
		{
			// A pod-bound token's node is information only: its deletion
			// does not invalidate the token, as upstream's.
			name:      "pod on a node since deleted",
			claims:    func(c *Claims) { c.Node = &Ref{Name: "node-b", UID: "node-b-uid"} },
			wantExtra: map[string][]string{PodNameKey: {"web-0"}, PodUIDKey: {"pod-uid"}, NodeNameKey: {"node-b"}, NodeUIDKey: {"node-b-uid"}},
		},
		{
			name:      "secret",
			claims:    func(c *Claims) { c.Pod, c.Node, c.Secret = nil, nil, &Ref{Name: "bot-tok", UID: "secret-uid"} },
			wantExtra: map[string][]string{},
		},
		{
			name:      "node",
			claims:    func(c *Claims) { c.Pod = nil },
			wantExtra: map[string][]string{NodeNameKey: {"node-a"}, NodeUIDKey: {"node-uid"}},
		},
		{
			name:      "unbound, not before given, audiences defaulted",
			claims:    func(c *Claims) { c.Pod, c.Node, c.Audiences, c.NotBefore = nil, nil, nil, t0.Add(time.Minute) },
			wantExtra: map[string][]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := podClaims()
			tc.claims(&in)
			tok := f.issue(t, in)
			got, err := f.verifier.Verify(tok, t0.Add(30*time.Minute))
			if err != nil {
				t.Fatal(err)
			}

			want := in
			want.Issuer = DefaultIssuer
			want.ID = got.ID
			if want.Audiences == nil {
				want.Audiences = []string{DefaultIssuer}
			}
			if want.NotBefore.IsZero() {
				want.NotBefore = want.IssuedAt
			}
			if !uuidV4.MatchString(got.ID) {
				t.Errorf("jti %q is not a random UUID", got.ID)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("claims\n got %+v\nwant %+v", *got, want)
			}

			wantUser := User{
				Name:   "system:serviceaccount:default:build-bot",
				UID:    "sa-uid",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default"},
				Extra:  tc.wantExtra,
			}
			wantUser.Extra["authentication.kubernetes.io/credential-id"] = []string{"JTI=" + got.ID}
			if u := got.User(); !reflect.DeepEqual(u, wantUser) {
				t.Errorf("user\n got %+v\nwant %+v", u, wantUser)
			}
		})
	}
	if a, b := f.issue(t, podClaims()), f.issue(t, podClaims()); a == b {
		t.Error("two tokens for the same claims are identical: the jti is not random")
	}
}

// The token is upstream's byte for byte: header, claim names, aud a list,
// claims in the order upstream's go-jose writes them.
func TestIssuedTokenIsUpstreams(t *testing.T) {
	f := newFixture(t)
	c := podClaims()
	c.ID = "6f3ed2f8-8d0f-4a8c-9f59-37b1e9f0b3a1"
	header, payload, sig := segments(t, f.issue(t, c))

	if got, want := string(unb64(t, header)), `{"alg":"ES256","kid":"`+f.key.ID()+`"}`; got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	want := `{"aud":["https://kubernetes.default.svc.cluster.local"],"exp":1800003600,"iat":1800000000,` +
		`"iss":"https://kubernetes.default.svc.cluster.local","jti":"6f3ed2f8-8d0f-4a8c-9f59-37b1e9f0b3a1",` +
		`"kubernetes.io":{"namespace":"default","node":{"name":"node-a","uid":"node-uid"},` +
		`"pod":{"name":"web-0","uid":"pod-uid"},"serviceaccount":{"name":"build-bot","uid":"sa-uid"}},` +
		`"nbf":1800000000,"sub":"system:serviceaccount:default:build-bot"}`
	if got := string(unb64(t, payload)); got != want {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
	if n := len(unb64(t, sig)); n != 64 {
		t.Errorf("ES256 signature of %d bytes, want 64", n)
	}
}

func TestVerifyRefuses(t *testing.T) {
	f := newFixture(t)
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	good := f.issue(t, podClaims())
	header, payload, sig := segments(t, good)
	now := t0.Add(30 * time.Minute)

	withClaims := func(edit func(map[string]any)) string {
		c := rawClaims()
		edit(c)
		return signRaw(t, jose.ES256, f.key.private, f.key.ID(), c)
	}

	for _, tc := range []struct {
		name    string
		token   string
		now     time.Time
		objects func(objects)
		want    string
		notOurs bool // errors.Is(err, ErrNotServiceAccountToken)
	}{
		{name: "empty", token: "", want: "not a service account token", notOurs: true},
		{name: "garbage", token: "hello, world", want: "not a service account token", notOurs: true},
		{name: "three garbage segments", token: "a.b.c", notOurs: true},
		{name: "four segments", token: good + ".x", notOurs: true},
		{name: "JWS JSON serialization", token: `{"payload":"` + payload + `","protected":"` + header + `","signature":"` + sig + `"}`, notOurs: true},
		{name: "JWE-shaped", token: header + "." + payload + "." + sig + ".a.b", notOurs: true},
		{
			name:    "another issuer",
			token:   mustIssue(t, mustIssuer(t, "https://evil.example", f.key), podClaims()),
			notOurs: true,
		},
		{
			name:  "tampered payload",
			token: header + "." + b64(editJSON(t, unb64(t, payload), "default", "kube-system")) + "." + sig,
			want:  "service account token: invalid signature",
		},
		{
			name:  "tampered signature",
			token: header + "." + payload + "." + b64(flipLastBit(unb64(t, sig))),
			want:  "service account token: invalid signature",
		},
		{
			name:  "truncated signature",
			token: header + "." + payload + "." + b64(unb64(t, sig)[:48]),
			want:  "service account token: invalid signature",
		},
		{
			name:  "no signature",
			token: header + "." + payload + ".",
			want:  "service account token: invalid signature",
		},
		{
			name:  "alg none",
			token: b64([]byte(`{"alg":"none","kid":"`+f.key.ID()+`"}`)) + "." + payload + ".",
			want:  `unsupported signing algorithm "none"`,
		},
		{
			name:  "alg none without kid",
			token: b64([]byte(`{"alg":"none"}`)) + "." + payload + ".",
			want:  `unsupported signing algorithm "none"`,
		},
		{
			name:  "HS256 with the public key as the secret",
			token: hs256(t, f.key, payload),
			want:  `unsupported signing algorithm "HS256"`,
		},
		{
			name:  "ES384",
			token: b64([]byte(`{"alg":"ES384","kid":"`+f.key.ID()+`"}`)) + "." + payload + "." + sig,
			want:  `unsupported signing algorithm "ES384"`,
		},
		{
			name:  "another key",
			token: mustIssue(t, mustIssuer(t, "", other), podClaims()),
			want:  "invalid signature, no keys found",
		},
		{
			name:  "another key claiming our kid",
			token: signRaw(t, jose.ES256, other.private, f.key.ID(), rawClaims()),
			want:  "service account token: invalid signature",
		},
		{
			name:  "another key without kid",
			token: signRaw(t, jose.ES256, other.private, "", rawClaims()),
			want:  "service account token: invalid signature",
		},
		{
			name:  "RS256 claiming the ES256 key's kid",
			token: signRaw(t, jose.RS256, rsaKey(), f.key.ID(), rawClaims()),
			want:  "invalid signature, no keys found",
		},
		{
			name:  "wrong audience",
			token: mustIssue(t, f.issuer, withAudiences(podClaims(), "vault", "https://kubernetes.default.svc")),
			want:  `token audiences ["vault" "https://kubernetes.default.svc"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]`,
		},
		{
			name:  "no audience",
			token: withClaims(func(c map[string]any) { delete(c, "aud") }),
			want:  "token audiences [] is invalid",
		},
		{name: "expired", token: good, now: t0.Add(time.Hour + Leeway + time.Second), want: "service account token has expired"},
		{name: "not yet valid", token: good, now: t0.Add(-Leeway - time.Second), want: "service account token is not valid yet"},
		{
			name:  "issued in the future",
			token: withClaims(func(c map[string]any) { c["iat"] = now.Add(2 * Leeway).Unix(); delete(c, "nbf") }),
			want:  "service account token is issued in the future",
		},
		{
			name:  "no expiry",
			token: withClaims(func(c map[string]any) { delete(c, "exp") }),
			want:  "service account token has no expiry",
		},
		{
			name:  "no kubernetes.io claims",
			token: withClaims(func(c map[string]any) { delete(c, "kubernetes.io") }),
			want:  "service account token has no kubernetes.io claims",
		},
		{
			name: "legacy secret-based token",
			token: withClaims(func(c map[string]any) {
				for _, k := range []string{"aud", "exp", "iat", "nbf", "jti", "kubernetes.io"} {
					delete(c, k)
				}
				c["kubernetes.io/serviceaccount/namespace"] = "default"
				c["kubernetes.io/serviceaccount/service-account.name"] = "build-bot"
				c["kubernetes.io/serviceaccount/service-account.uid"] = "sa-uid"
			}),
			want: "token audiences [] is invalid",
		},
		{
			name:  "subject of another service account",
			token: withClaims(func(c map[string]any) { c["sub"] = "system:serviceaccount:kube-system:admin" }),
			want:  "service account token subject does not match its kubernetes.io claims",
		},
		{
			name:  "malformed claims",
			token: withClaims(func(c map[string]any) { c["exp"] = "tomorrow" }),
			want:  "service account token: malformed claims",
		},
		{
			name:    "service account deleted",
			token:   good,
			objects: func(o objects) { delete(o, "sa/default/build-bot") },
			want:    "service account default/build-bot has been deleted",
		},
		{
			name:    "service account recreated",
			token:   good,
			objects: func(o objects) { o["sa/default/build-bot"] = "sa-uid-2" },
			want:    "service account UID (sa-uid-2) does not match claim (sa-uid)",
		},
		{
			name:    "pod deleted",
			token:   good,
			objects: func(o objects) { delete(o, "pod/default/web-0") },
			want:    "service account token has been invalidated: pod default/web-0 does not exist",
		},
		{
			name:    "pod recreated",
			token:   good,
			objects: func(o objects) { o["pod/default/web-0"] = "pod-uid-2" },
			want:    "pod UID (pod-uid-2) does not match service account pod ref claim (pod-uid)",
		},
		{
			name:    "secret deleted",
			token:   mustIssue(t, f.issuer, secretClaims()),
			objects: func(o objects) { delete(o, "secret/default/bot-tok") },
			want:    "service account token has been invalidated: secret default/bot-tok does not exist",
		},
		{
			name:    "secret recreated",
			token:   mustIssue(t, f.issuer, secretClaims()),
			objects: func(o objects) { o["secret/default/bot-tok"] = "secret-uid-2" },
			want:    "secret UID (secret-uid-2) does not match service account secret ref claim (secret-uid)",
		},
		{
			name:    "node deleted",
			token:   mustIssue(t, f.issuer, nodeClaims()),
			objects: func(o objects) { delete(o, "node/node-a") },
			want:    "service account token has been invalidated: node node-a does not exist",
		},
		{
			name:    "node recreated",
			token:   mustIssue(t, f.issuer, nodeClaims()),
			objects: func(o objects) { o["node/node-a"] = "node-uid-2" },
			want:    "node UID (node-uid-2) does not match service account node ref claim (node-uid)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := f.verifier
			if tc.objects != nil {
				o := clusterObjects()
				tc.objects(o)
				var err error
				v, err = NewVerifier(VerifierConfig{Keys: []crypto.PublicKey{f.key.Public()}, Getter: o})
				if err != nil {
					t.Fatal(err)
				}
			}
			at := now
			if !tc.now.IsZero() {
				at = tc.now
			}
			c, err := v.Verify(tc.token, at)
			if err == nil {
				t.Fatalf("accepted, claims %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want one containing %q", err, tc.want)
			}
			if errors.Is(err, ErrNotServiceAccountToken) != tc.notOurs {
				t.Errorf("err = %q: errors.Is(ErrNotServiceAccountToken) = %v, want %v", err, !tc.notOurs, tc.notOurs)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("err = %q contains the token", err)
			}
			for _, s := range strings.Split(tc.token, ".") {
				if len(s) > 16 && strings.Contains(err.Error(), s) {
					t.Errorf("err = %q contains a segment of the token", err)
				}
			}
		})
	}
}

// Clocks may disagree by a minute either way, as upstream allows.
func TestVerifyLeeway(t *testing.T) {
	f := newFixture(t)
	tok := f.issue(t, podClaims()) // valid from t0 to t0+1h
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-Leeway - time.Second), "not valid yet"},
		{t0.Add(-Leeway), ""},
		{t0, ""},
		{t0.Add(time.Hour), ""},
		{t0.Add(time.Hour + Leeway), ""},
		{t0.Add(time.Hour + Leeway + time.Second), "has expired"},
	} {
		_, err := f.verifier.Verify(tok, tc.at)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("at t0%+v: %v", tc.at.Sub(t0), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("at t0%+v: err = %v, want %q", tc.at.Sub(t0), err, tc.want)
		}
	}
}

func TestVerifyAcceptsRS256AndOtherAudiences(t *testing.T) {
	f := newFixture(t)
	c := rawClaims()
	c["aud"] = "vault" // a single string is an audience list too
	tok := signRaw(t, jose.RS256, rsaKey(), "", c)
	if _, err := f.verifier.Verify(tok, t0); err == nil || !strings.Contains(err.Error(), `token audiences ["vault"] is invalid`) {
		t.Fatalf("verified for the API audiences: err = %v", err)
	}
	got, err := f.verifier.VerifyAudiences(tok, t0, []string{"vault"})
	if err != nil {
		t.Fatal(err)
	}
	if got.User().Name != "system:serviceaccount:default:build-bot" || !reflect.DeepEqual(got.Audiences, []string{"vault"}) {
		t.Fatalf("claims %+v", got)
	}
}

func TestVerifierAcceptsSeveralIssuers(t *testing.T) {
	f := newFixture(t)
	v, err := NewVerifier(VerifierConfig{
		Issuers: []string{"https://old.example", DefaultIssuer},
		Keys:    []crypto.PublicKey{f.key.Public()},
		Getter:  f.objects,
	})
	if err != nil {
		t.Fatal(err)
	}
	old := podClaims()
	old.Audiences = []string{"https://old.example"}
	for _, tok := range []string{mustIssue(t, mustIssuer(t, "https://old.example", f.key), old), f.issue(t, podClaims())} {
		if _, err := v.Verify(tok, t0); err != nil {
			t.Error(err)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		edit func(*Claims)
		want string
	}{
		{"no service account UID", func(c *Claims) { c.ServiceAccount.UID = "" }, "name and UID are required"},
		{"no namespace", func(c *Claims) { c.Namespace = "" }, "name and UID are required"},
		{"no expiry", func(c *Claims) { c.Expiry = time.Time{} }, "no expiry"},
		{"expiry before issue", func(c *Claims) { c.Expiry = t0.Add(-time.Second) }, "expiry is not after issued-at"},
		{"secret and pod", func(c *Claims) { c.Secret = &Ref{Name: "s", UID: "u"} }, "only be bound to one object type"},
		{"pod without UID", func(c *Claims) { c.Pod.UID = "" }, "needs its name and UID"},
		{"node alone without UID", func(c *Claims) { c.Pod, c.Node.UID = nil, "" }, "needs its name and UID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := podClaims()
			tc.edit(&c)
			tok, err := f.issuer.Issue(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Issue = %q, %v; want an error containing %q", tok, err, tc.want)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tok := f.issue(b, podClaims())
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.verifier.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	f := newFixture(b)
	c := podClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.Issue(c); err != nil {
			b.Fatal(err)
		}
	}
}

func mustIssuer(t testing.TB, url string, key *Key) *Issuer {
	t.Helper()
	iss, err := NewIssuer(url, key)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func mustIssue(t testing.TB, iss *Issuer, c Claims) string {
	t.Helper()
	tok, err := iss.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func withAudiences(c Claims, auds ...string) Claims {
	c.Audiences = auds
	return c
}

func secretClaims() Claims {
	c := podClaims()
	c.Pod, c.Node, c.Secret = nil, nil, &Ref{Name: "bot-tok", UID: "secret-uid"}
	return c
}

func nodeClaims() Claims {
	c := podClaims()
	c.Pod = nil
	return c
}

// editJSON replaces the quoted string old by new in a claim set.
func editJSON(t testing.TB, body []byte, old, new string) []byte {
	t.Helper()
	out := strings.ReplaceAll(string(body), `"`+old+`"`, `"`+new+`"`)
	if out == string(body) || !json.Valid([]byte(out)) {
		t.Fatalf("could not replace %q in %s", old, body)
	}
	return []byte(out)
}

func flipLastBit(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[len(b)-1] ^= 1
	return b
}

// hs256 is the classic algorithm confusion: an HMAC keyed with the
// verifier's public key, which anyone can fetch from the JWKS.
func hs256(t testing.TB, key *Key, payload string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.Public().(*ecdsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	signing := b64([]byte(`{"alg":"HS256","kid":"`+key.ID()+`"}`)) + "." + payload
	mac := hmac.New(sha256.New, der)
	mac.Write([]byte(signing))
	return signing + "." + b64(mac.Sum(nil))
}
