package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Leeway is the clock skew tolerated on "exp", "nbf" and "iat", and how long
// after its deletion a bound object still counts (upstream uses go-jose's
// jwt.DefaultLeeway for both).
const Leeway = time.Minute

// ErrNotServiceAccountToken is wrapped by Verify's error for a bearer token
// that is not a JWT from one of the Verifier's issuers at all (garbage, a
// static token, another issuer's JWT), so that an authenticator chain can try
// its other authenticators, as upstream's does.
var ErrNotServiceAccountToken = errors.New("not a service account token")

// Getter tells a Verifier whether the objects a token names still exist,
// and with which UID. ok is false for an object that does not exist. As
// upstream's validator does, an object whose deletionTimestamp is more than
// Leeway in the past should be reported missing too, and one that is still
// terminating (a pod within its grace period) present.
//
// Lookups should be cheap (a cache): Verify makes one for the service
// account and one for the bound object on every request.
type Getter interface {
	ServiceAccountUID(namespace, name string) (uid string, ok bool)
	PodUID(namespace, name string) (uid string, ok bool)
	SecretUID(namespace, name string) (uid string, ok bool)
	NodeUID(name string) (uid string, ok bool)
}

// VerifierConfig is what a Verifier is built from.
type VerifierConfig struct {
	// Issuers are the accepted "iss" values (kube-apiserver's repeated
	// --service-account-issuer); default DefaultIssuer.
	Issuers []string
	// Audiences are the API audiences (--api-audiences): a token must be
	// for at least one of them. Default: the Issuers, as upstream's.
	Audiences []string
	// Keys are the public keys tokens may be signed with: ECDSA P-256
	// (ES256) or RSA (RS256). Private keys count for their public half.
	// Several keys allow rotation.
	Keys []crypto.PublicKey
	// Getter checks that the bound objects still exist. Required: a token
	// must stop working when its service account, pod or secret is deleted.
	Getter Getter
	// Secrets, when set, makes the Verifier accept legacy tokens (issued
	// by LegacyIssuer, signed with one of Keys) while the Secret they name
	// holds them; without it they are not service account tokens to it.
	Secrets SecretGetter
	// LegacyTokenUsed, when set, is told that the legacy token in Secret
	// namespace/name (with uid) was used on date (UTC, 2006-01-02), when
	// the Secret's LastUsedLabelKey label says neither that day nor the
	// next: at most once a day per Secret, as upstream labels it. It is
	// called during Verify and must not block (label the Secret in the
	// background).
	LegacyTokenUsed func(namespace, name, uid, date string)
}

// Verifier checks service account tokens. It is safe for concurrent use.
type Verifier struct {
	issuers   []string
	audiences []string
	keys      []verifyKey
	getter    Getter
	secrets   SecretGetter
	lastUsed  *lastUsed
	sigs      sigCache
}

type verifyKey struct {
	id     string
	alg    jose.SignatureAlgorithm
	public crypto.PublicKey
}

// supportedAlgs are the only algorithms a token's header may name; "none",
// the HMACs (which would take a public key for a shared secret) and anything
// else are refused before any key is tried.
var supportedAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// NewVerifier returns a Verifier for c.
func NewVerifier(c VerifierConfig) (*Verifier, error) {
	v := &Verifier{
		issuers:   slices.Clone(c.Issuers),
		audiences: slices.Clone(c.Audiences),
		getter:    c.Getter,
		secrets:   c.Secrets,
	}
	if c.LegacyTokenUsed != nil {
		v.lastUsed = &lastUsed{report: c.LegacyTokenUsed}
	}
	if len(v.issuers) == 0 {
		v.issuers = []string{DefaultIssuer}
	}
	if len(v.audiences) == 0 {
		v.audiences = slices.Clone(v.issuers)
	}
	if v.getter == nil {
		return nil, errors.New("service account token verifier: no Getter to check bound objects with")
	}
	if len(c.Keys) == 0 {
		return nil, errors.New("service account token verifier: no keys")
	}
	for i, k := range c.Keys {
		public, alg, err := publicKey(k)
		if err != nil {
			return nil, fmt.Errorf("service account token verifier: key #%d: %w", i, err)
		}
		id, err := KeyID(public)
		if err != nil {
			return nil, fmt.Errorf("service account token verifier: key #%d: %w", i, err)
		}
		v.keys = append(v.keys, verifyKey{id: id, alg: alg, public: public})
	}
	return v, nil
}

// publicKey returns the public half of k and the one algorithm it verifies.
func publicKey(k crypto.PublicKey) (crypto.PublicKey, jose.SignatureAlgorithm, error) {
	if private, ok := k.(crypto.Signer); ok {
		k = private.Public()
	}
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, "", errors.New("an ECDSA key must be on P-256")
		}
		return k, jose.ES256, nil
	case *rsa.PublicKey:
		return k, jose.RS256, nil
	}
	return nil, "", fmt.Errorf("unsupported key type %T", k)
}

// Verify checks token at time now (time.Now when zero) for the API
// audiences and returns its claims; their User is who the request is.
//
// A token is accepted only when it is a compact JWS signed with ES256 or
// RS256 by one of the Verifier's keys (the one its "kid" names, or any when
// it names none), issued by one of its issuers, for one of the audiences,
// with "exp" (required) not more than Leeway past, "nbf" and "iat" not more
// than Leeway ahead, naming a service account (in "kubernetes.io") that the
// Getter still has with the same UID, and likewise its bound pod, secret or
// node. With VerifierConfig.Secrets, a legacy token is accepted instead when
// it is signed so, for the API audiences, names a service account the
// Getter has with its UID, and its Secret still holds it; its claims have
// Legacy() true and Secret set. The error never contains the token.
func (v *Verifier) Verify(token string, now time.Time) (*Claims, error) {
	return v.VerifyAudiences(token, now, nil)
}

// VerifyAudiences is Verify for other audiences than the API's (a
// TokenReview's spec.audiences); nil means the API audiences.
func (v *Verifier) VerifyAudiences(token string, now time.Time, audiences []string) (*Claims, error) {
	if now.IsZero() {
		now = time.Now()
	}
	if len(audiences) == 0 {
		audiences = v.audiences
	}
	iss, body, err := v.checkSignature(token)
	if err != nil {
		return nil, err
	}
	if iss == LegacyIssuer && v.secrets != nil {
		return v.verifyLegacy(token, body, now, audiences)
	}

	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, errors.New("service account token: malformed claims")
	}
	if !slices.Contains(v.issuers, p.Issuer) {
		return nil, fmt.Errorf("token issuer %q is invalid", p.Issuer)
	}
	if !slices.ContainsFunc([]string(p.Audience), func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, fmt.Errorf("token audiences %q is invalid for the target audiences %q", []string(p.Audience), audiences)
	}
	c := p.claims()
	if err := checkTimes(c, now); err != nil {
		return nil, err
	}
	if c.Namespace == "" || c.ServiceAccount.Name == "" {
		return nil, errors.New("service account token has no kubernetes.io claims")
	}
	if p.Subject != Username(c.Namespace, c.ServiceAccount.Name) {
		return nil, errors.New("service account token subject does not match its kubernetes.io claims")
	}
	if err := v.checkBound(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSignature returns the issuer and the payload of a token of ours
// whose signature verifies (from the cache when it did before).
func (v *Verifier) checkSignature(token string) (string, []byte, error) {
	if hit, ok := v.sigs.get(token); ok {
		if hit.issuer == LegacyIssuer && v.secrets == nil || hit.issuer != LegacyIssuer && !slices.Contains(v.issuers, hit.issuer) {
			return "", nil, fmt.Errorf("%w: malformed or from another issuer", ErrNotServiceAccountToken)
		}
		return hit.issuer, hit.body, nil
	}
	// Like upstream's hasCorrectIssuer: look at the unverified issuer
	// first, only to tell tokens that are not ours from bad ones of ours.
	alg, iss, ok := v.recognize(token)
	if !ok {
		return "", nil, fmt.Errorf("%w: malformed or from another issuer", ErrNotServiceAccountToken)
	}
	if !slices.Contains(supportedAlgs, alg) {
		return "", nil, fmt.Errorf("service account token: unsupported signing algorithm %q", alg)
	}
	jws, err := jose.ParseSignedCompact(token, supportedAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", nil, errors.New("service account token: malformed")
	}
	body, err := v.verifySignature(jws)
	if err != nil {
		return "", nil, err
	}
	v.sigs.put(token, verified{issuer: iss, body: body})
	return iss, body, nil
}

// recognize decodes the token's header and payload without verifying
// anything, and returns its "alg" and "iss" when the "iss" is one of ours
// (LegacyIssuer among them when legacy tokens are accepted).
func (v *Verifier) recognize(token string) (jose.SignatureAlgorithm, string, bool) {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", false
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return "", "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	var p struct {
		Issuer string `json:"iss"`
	}
	if !decodeSegment(header, &h) || !decodeSegment(body, &p) {
		return "", "", false
	}
	ours := slices.Contains(v.issuers, p.Issuer) || (p.Issuer == LegacyIssuer && v.secrets != nil)
	return jose.SignatureAlgorithm(h.Alg), p.Issuer, ours
}

func decodeSegment(segment string, into any) bool {
	b, err := base64.RawURLEncoding.DecodeString(segment)
	return err == nil && json.Unmarshal(b, into) == nil
}

// verifySignature tries the keys the token's "kid" names (all when it
// names none) that verify its algorithm, as upstream's authenticator does.
func (v *Verifier) verifySignature(jws *jose.JSONWebSignature) ([]byte, error) {
	header := jws.Signatures[0].Header
	tried := false
	for _, k := range v.keys {
		if (header.KeyID != "" && k.id != header.KeyID) || jose.SignatureAlgorithm(header.Algorithm) != k.alg {
			continue
		}
		tried = true
		if body, err := jws.Verify(k.public); err == nil {
			return body, nil
		}
	}
	if !tried {
		return nil, errors.New("service account token: invalid signature, no keys found")
	}
	return nil, errors.New("service account token: invalid signature")
}

// checkTimes applies go-jose's jwt.Claims.Validate with the default
// leeway, as upstream's validator does, and requires an expiry: only the
// legacy secret-based tokens, which are checked apart, lack one.
func checkTimes(c *Claims, now time.Time) error {
	switch {
	case c.Expiry.IsZero():
		return errors.New("service account token has no expiry")
	case !c.NotBefore.IsZero() && now.Add(Leeway).Before(c.NotBefore):
		return errors.New("service account token is not valid yet")
	case now.Add(-Leeway).After(c.Expiry):
		return errors.New("service account token has expired")
	case !c.IssuedAt.IsZero() && now.Add(Leeway).Before(c.IssuedAt):
		return errors.New("service account token is issued in the future")
	}
	return nil
}

// checkBound makes sure the service account, and the pod, secret or node
// the token is bound to, still exist with the UIDs the token names, with
// upstream's error messages. A pod-bound token's node is information only.
func (v *Verifier) checkBound(c *Claims) error {
	ns, sa := c.Namespace, c.ServiceAccount
	uid, ok := v.getter.ServiceAccountUID(ns, sa.Name)
	if !ok {
		return fmt.Errorf("service account %s/%s has been deleted", ns, sa.Name)
	}
	if uid != sa.UID {
		return fmt.Errorf("service account UID (%s) does not match claim (%s)", uid, sa.UID)
	}
	if s := c.Secret; s != nil {
		uid, ok := v.getter.SecretUID(ns, s.Name)
		if !ok {
			return fmt.Errorf("service account token has been invalidated: secret %s/%s does not exist", ns, s.Name)
		}
		if uid != s.UID {
			return fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", uid, s.UID)
		}
	}
	if p := c.Pod; p != nil {
		uid, ok := v.getter.PodUID(ns, p.Name)
		if !ok {
			return fmt.Errorf("service account token has been invalidated: pod %s/%s does not exist", ns, p.Name)
		}
		if uid != p.UID {
			return fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", uid, p.UID)
		}
	}
	if n := c.Node; n != nil && c.Pod == nil {
		uid, ok := v.getter.NodeUID(n.Name)
		if !ok {
			return fmt.Errorf("service account token has been invalidated: node %s does not exist", n.Name)
		}
		if uid != n.UID {
			return fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", uid, n.UID)
		}
	}
	return nil
}
