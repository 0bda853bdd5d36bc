package serviceaccount

import (
	"crypto"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// secrets is a SecretGetter over "namespace/name".
type secrets map[string]TokenSecret

func (s secrets) TokenSecret(ns, name string) (TokenSecret, bool) {
	sec, ok := s[ns+"/"+name]
	return sec, ok
}

// legacyClaims are the tokens controller's for Secret bot-token of build-bot.
func legacyClaims() LegacyClaims {
	return LegacyClaims{Namespace: "default", ServiceAccount: Ref{Name: "build-bot", UID: "sa-uid"}, SecretName: "bot-token"}
}

// legacyFixture is a Verifier accepting legacy tokens, with the Secret
// holding tok, and what its LegacyTokenUsed callback was told.
type legacyFixture struct {
	*fixture
	tok     string
	secrets secrets
	mu      sync.Mutex
	used    []string
}

func newLegacyFixture(t testing.TB) *legacyFixture {
	t.Helper()
	f := &legacyFixture{fixture: newFixture(t)}
	var err error
	if f.tok, err = f.issuer.IssueLegacy(legacyClaims()); err != nil {
		t.Fatal(err)
	}
	f.secrets = secrets{"default/bot-token": {UID: "secret-uid", Token: []byte(f.tok)}}
	f.verifier = f.newVerifier(t, f.objects, f.secrets)
	return f
}

func (f *legacyFixture) newVerifier(t testing.TB, o objects, s secrets) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{
		Keys: []crypto.PublicKey{f.key.Public(), rsaKey().Public()}, Getter: o, Secrets: s,
		LegacyTokenUsed: func(ns, name, uid, date string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.used = append(f.used, fmt.Sprintf("%s/%s %s %s", ns, name, uid, date))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *legacyFixture) takeUsed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.used
	f.used = nil
	return u
}

// rawLegacyClaims is legacyClaims as a token's JSON claim set.
func rawLegacyClaims() map[string]any {
	return map[string]any{
		"iss":                                    LegacyIssuer,
		"sub":                                    "system:serviceaccount:default:build-bot",
		"kubernetes.io/serviceaccount/namespace": "default",
		"kubernetes.io/serviceaccount/secret.name":          "bot-token",
		"kubernetes.io/serviceaccount/service-account.name": "build-bot",
		"kubernetes.io/serviceaccount/service-account.uid":  "sa-uid",
	}
}

// The legacy token is upstream's byte for byte: the same header as a bound
// token's, upstream's claim names in the order its go-jose writes them, and
// no audience, expiry or ID.
func TestLegacyTokenIsUpstreams(t *testing.T) {
	f := newLegacyFixture(t)
	header, payload, sig := segments(t, f.tok)
	if got, want := string(unb64(t, header)), `{"alg":"ES256","kid":"`+f.key.ID()+`"}`; got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	want := `{"iss":"kubernetes/serviceaccount",` +
		`"kubernetes.io/serviceaccount/namespace":"default",` +
		`"kubernetes.io/serviceaccount/secret.name":"bot-token",` +
		`"kubernetes.io/serviceaccount/service-account.name":"build-bot",` +
		`"kubernetes.io/serviceaccount/service-account.uid":"sa-uid",` +
		`"sub":"system:serviceaccount:default:build-bot"}`
	if got := string(unb64(t, payload)); got != want {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
	if n := len(unb64(t, sig)); n != 64 {
		t.Errorf("ES256 signature of %d bytes, want 64", n)
	}
}

func TestLegacyTokenAccepted(t *testing.T) {
	f := newLegacyFixture(t)
	// A legacy token does not expire: years later it still works.
	got, err := f.verifier.Verify(f.tok, t0.Add(10*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		Issuer:         LegacyIssuer,
		Audiences:      []string{DefaultIssuer},
		Namespace:      "default",
		ServiceAccount: Ref{Name: "build-bot", UID: "sa-uid"},
		Secret:         &Ref{Name: "bot-token", UID: "secret-uid"},
	}
	if !reflect.DeepEqual(*got, want) || !got.Legacy() {
		t.Errorf("claims\n got %+v\nwant %+v", *got, want)
	}
	// As upstream's ServiceAccountInfo.UserInfo: no credential ID, no extra.
	wantUser := User{
		Name:   "system:serviceaccount:default:build-bot",
		UID:    "sa-uid",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default"},
	}
	if u := got.User(); !reflect.DeepEqual(u, wantUser) {
		t.Errorf("user\n got %+v\nwant %+v", u, wantUser)
	}
	// A TokenReview for the API audience accepts it, one for another
	// audience does not: a legacy token is for the API alone.
	if _, err := f.verifier.VerifyAudiences(f.tok, t0, []string{"vault", DefaultIssuer}); err != nil {
		t.Errorf("for the API audience among others: %v", err)
	}
	if _, err := f.verifier.VerifyAudiences(f.tok, t0, []string{"vault"}); err == nil ||
		!strings.Contains(err.Error(), `token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["vault"]`) {
		t.Errorf("for another audience: err = %v", err)
	}
	// An RS256 key of the verifier's signs them as well (upstream's
	// controller manager signs with whatever key it is given).
	rs := signRaw(t, jose.RS256, rsaKey(), "", rawLegacyClaims())
	f.secrets["default/bot-token"] = TokenSecret{UID: "secret-uid", Token: []byte(rs)}
	if _, err := f.verifier.Verify(rs, t0); err != nil {
		t.Errorf("RS256: %v", err)
	}
}

func TestLegacyTokenRefused(t *testing.T) {
	f := newLegacyFixture(t)
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	header, payload, sig := segments(t, f.tok)
	withClaims := func(edit func(map[string]any)) string {
		c := rawLegacyClaims()
		edit(c)
		return signRaw(t, jose.ES256, f.key.private, f.key.ID(), c)
	}
	for _, tc := range []struct {
		name     string
		token    string
		secrets  func(secrets)
		objects  func(objects)
		noLegacy bool // a Verifier without a SecretGetter
		want     string
		notOurs  bool
	}{
		{name: "secret deleted", secrets: func(s secrets) { delete(s, "default/bot-token") }, want: "Token has been invalidated"},
		{
			name: "secret being deleted",
			secrets: func(s secrets) {
				s["default/bot-token"] = TokenSecret{UID: "secret-uid", Token: []byte(f.tok), Deleting: true}
			},
			want: "Token has been invalidated",
		},
		{
			name:    "secret holds another token",
			secrets: func(s secrets) { s["default/bot-token"] = TokenSecret{UID: "secret-uid", Token: []byte(f.tok + "x")} },
			want:    "Token does not match server's copy",
		},
		{
			name:    "secret holds no token",
			secrets: func(s secrets) { s["default/bot-token"] = TokenSecret{UID: "secret-uid"} },
			want:    "Token does not match server's copy",
		},
		{
			name: "secret marked invalid",
			secrets: func(s secrets) {
				s["default/bot-token"] = TokenSecret{UID: "secret-uid", Token: []byte(f.tok), Labels: map[string]string{InvalidSinceLabelKey: "2026-01-02"}}
			},
			want: "the token in secret default/bot-token for service account default/build-bot has been marked invalid. " +
				"Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token",
		},
		{name: "service account deleted", objects: func(o objects) { delete(o, "sa/default/build-bot") }, want: "ServiceAccount default/build-bot has been deleted"},
		{
			name:    "service account recreated",
			objects: func(o objects) { o["sa/default/build-bot"] = "sa-uid-2" },
			want:    "ServiceAccount UID (sa-uid-2) does not match claim (sa-uid)",
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
			name:  "alg none",
			token: b64([]byte(`{"alg":"none","kid":"`+f.key.ID()+`"}`)) + "." + payload + ".",
			want:  `unsupported signing algorithm "none"`,
		},
		{name: "HS256 with the public key as the secret", token: hs256(t, f.key, payload), want: `unsupported signing algorithm "HS256"`},
		{name: "another key", token: signRaw(t, jose.ES256, other.private, other.ID(), rawLegacyClaims()), want: "invalid signature, no keys found"},
		{name: "another key claiming our kid", token: signRaw(t, jose.ES256, other.private, f.key.ID(), rawLegacyClaims()), want: "service account token: invalid signature"},
		{
			name:    "another issuer",
			token:   withClaims(func(c map[string]any) { c["iss"] = "https://evil.example" }),
			notOurs: true,
		},
		{
			// The bound tokens' issuer with legacy claims: checked as a
			// bound token, which it is not.
			name:  "the bound tokens' issuer",
			token: withClaims(func(c map[string]any) { c["iss"] = DefaultIssuer }),
			want:  "token audiences [] is invalid",
		},
		{name: "no legacy tokens accepted", noLegacy: true, notOurs: true},
		{
			name:  "for another audience",
			token: withClaims(func(c map[string]any) { c["aud"] = []string{"vault"} }),
			want:  `token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]`,
		},
		{
			name:  "subject of another service account",
			token: withClaims(func(c map[string]any) { c["sub"] = "system:serviceaccount:kube-system:admin" }),
			want:  "sub claim is invalid",
		},
		{name: "no subject", token: withClaims(func(c map[string]any) { delete(c, "sub") }), want: "sub claim is missing"},
		{
			name:  "no secret name",
			token: withClaims(func(c map[string]any) { delete(c, "kubernetes.io/serviceaccount/secret.name") }),
			want:  "secretName claim is missing",
		},
		{
			name:  "no service account UID",
			token: withClaims(func(c map[string]any) { delete(c, "kubernetes.io/serviceaccount/service-account.uid") }),
			want:  "serviceAccountUID claim is missing",
		},
		{
			name:  "malformed claims",
			token: withClaims(func(c map[string]any) { c["kubernetes.io/serviceaccount/namespace"] = 7 }),
			want:  "service account token: malformed claims",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, s := clusterObjects(), secrets{"default/bot-token": {UID: "secret-uid", Token: []byte(f.tok)}}
			if tc.objects != nil {
				tc.objects(o)
			}
			if tc.secrets != nil {
				tc.secrets(s)
			}
			token := tc.token
			if token == "" {
				token = f.tok
			} else if tc.secrets == nil {
				// The Secret holds the token, so that only the check
				// the case is about can refuse it.
				s["default/bot-token"] = TokenSecret{UID: "secret-uid", Token: []byte(token)}
			}
			v := f.newVerifier(t, o, s)
			if tc.noLegacy {
				var err error
				if v, err = NewVerifier(VerifierConfig{Keys: []crypto.PublicKey{f.key.Public()}, Getter: o}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := v.Verify(token, t0)
			if err == nil {
				t.Fatalf("accepted, claims %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want one containing %q", err, tc.want)
			}
			if errors.Is(err, ErrNotServiceAccountToken) != tc.notOurs {
				t.Errorf("err = %q: errors.Is(ErrNotServiceAccountToken) = %v, want %v", err, !tc.notOurs, tc.notOurs)
			}
			for _, seg := range strings.Split(token, ".") {
				if len(seg) > 16 && strings.Contains(err.Error(), seg) {
					t.Errorf("err = %q contains a segment of the token", err)
				}
			}
		})
	}
	if u := f.takeUsed(); len(u) != 1 || !strings.HasPrefix(u[0], "default/bot-token secret-uid ") {
		t.Errorf("last-used reports %q, want the one of the token marked invalid (as upstream)", u)
	}
}

// A used legacy token's Secret is reported for its last-used label at most
// once a day, and not when the label already says today (or tomorrow, a
// clock ahead of ours).
func TestLegacyTokenLastUsed(t *testing.T) {
	f := newLegacyFixture(t)
	day := time.Date(2026, 3, 14, 23, 0, 0, 0, time.UTC)
	verify := func(at time.Time) {
		t.Helper()
		if _, err := f.verifier.Verify(f.tok, at); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		verify(day)
	}
	if got, want := f.takeUsed(), []string{"default/bot-token secret-uid 2026-03-14"}; !reflect.DeepEqual(got, want) {
		t.Errorf("first day: reports %q, want %q", got, want)
	}
	verify(day.Add(2 * time.Hour)) // 01:00 UTC the next day
	verify(day.Add(3 * time.Hour))
	if got, want := f.takeUsed(), []string{"default/bot-token secret-uid 2026-03-15"}; !reflect.DeepEqual(got, want) {
		t.Errorf("next day: reports %q, want %q", got, want)
	}

	// Labelled already: nothing to report, with a fresh Verifier too.
	for _, label := range []string{"2026-03-14", "2026-03-15"} {
		s := secrets{"default/bot-token": {UID: "secret-uid", Token: []byte(f.tok), Labels: map[string]string{LastUsedLabelKey: label}}}
		f.newVerifier(t, f.objects, s).Verify(f.tok, day)
		if got := f.takeUsed(); len(got) != 0 {
			t.Errorf("labelled %s: reports %q", label, got)
		}
	}
	s := secrets{"default/bot-token": {UID: "secret-uid", Token: []byte(f.tok), Labels: map[string]string{LastUsedLabelKey: "2026-03-13"}}}
	f.newVerifier(t, f.objects, s).Verify(f.tok, day)
	if got, want := f.takeUsed(), []string{"default/bot-token secret-uid 2026-03-14"}; !reflect.DeepEqual(got, want) {
		t.Errorf("labelled the day before: reports %q, want %q", got, want)
	}

	// A refused token is not reported; nor is anything without a callback.
	s = secrets{"default/bot-token": {UID: "secret-uid", Token: []byte("another")}}
	f.newVerifier(t, f.objects, s).Verify(f.tok, day)
	if got := f.takeUsed(); len(got) != 0 {
		t.Errorf("refused token: reports %q", got)
	}
	quiet, err := NewVerifier(VerifierConfig{Keys: []crypto.PublicKey{f.key.Public()}, Getter: f.objects, Secrets: f.secrets})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quiet.Verify(f.tok, day); err != nil {
		t.Errorf("without a callback: %v", err)
	}
}

func TestIssueLegacyRefuses(t *testing.T) {
	f := newFixture(t)
	for name, edit := range map[string]func(*LegacyClaims){
		"no namespace":           func(c *LegacyClaims) { c.Namespace = "" },
		"no service account":     func(c *LegacyClaims) { c.ServiceAccount.Name = "" },
		"no service account UID": func(c *LegacyClaims) { c.ServiceAccount.UID = "" },
		"no secret":              func(c *LegacyClaims) { c.SecretName = "" },
	} {
		c := legacyClaims()
		edit(&c)
		if tok, err := f.issuer.IssueLegacy(c); err == nil || !strings.Contains(err.Error(), "are required") {
			t.Errorf("%s: IssueLegacy = %q, %v", name, tok, err)
		}
	}
}
