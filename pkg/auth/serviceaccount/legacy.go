package serviceaccount

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Legacy service account tokens are the ones kube-controller-manager's
// tokens controller writes into Secrets of type
// kubernetes.io/service-account-token: no audience, no expiry, valid for as
// long as the Secret holds them and the service account exists.
const (
	// LegacyIssuer is their "iss".
	LegacyIssuer = "kubernetes/serviceaccount"
	// LastUsedLabelKey is the label on a Secret whose legacy token was
	// used, with the date (UTC, 2006-01-02) it was last used.
	LastUsedLabelKey = "kubernetes.io/legacy-token-last-used"
	// InvalidSinceLabelKey is the label on a Secret whose legacy token
	// must no longer be accepted, with the date it was marked so.
	InvalidSinceLabelKey = "kubernetes.io/legacy-token-invalid-since"
)

// lastUsedLayout is the format of the last-used date.
const lastUsedLayout = "2006-01-02"

// LegacyClaims are what a legacy token says: the service account and the
// Secret holding the token.
type LegacyClaims struct {
	Namespace      string
	ServiceAccount Ref
	SecretName     string
}

// legacyPayload is a legacy token's JSON, in the order upstream's go-jose
// writes it (alphabetical). "aud" is only read: upstream's authenticator
// takes a legacy token's audiences when it has any, but never writes them.
type legacyPayload struct {
	Audience           audience `json:"aud,omitempty"`
	Issuer             string   `json:"iss,omitempty"`
	Namespace          string   `json:"kubernetes.io/serviceaccount/namespace"`
	SecretName         string   `json:"kubernetes.io/serviceaccount/secret.name"`
	ServiceAccountName string   `json:"kubernetes.io/serviceaccount/service-account.name"`
	ServiceAccountUID  string   `json:"kubernetes.io/serviceaccount/service-account.uid"`
	Subject            string   `json:"sub,omitempty"`
}

// IssueLegacy signs c as a legacy token, with the Issuer's key (as
// kube-controller-manager signs them with the service-account key) but
// LegacyIssuer as "iss".
func (i *Issuer) IssueLegacy(c LegacyClaims) (string, error) {
	if c.Namespace == "" || c.ServiceAccount.Name == "" || c.ServiceAccount.UID == "" || c.SecretName == "" {
		return "", fmt.Errorf("issue legacy token for service account %q in namespace %q: the namespace, the service account's name and UID and the secret's name are required",
			c.ServiceAccount.Name, c.Namespace)
	}
	body, err := json.Marshal(legacyPayload{
		Issuer:             LegacyIssuer,
		Namespace:          c.Namespace,
		SecretName:         c.SecretName,
		ServiceAccountName: c.ServiceAccount.Name,
		ServiceAccountUID:  c.ServiceAccount.UID,
		Subject:            Username(c.Namespace, c.ServiceAccount.Name),
	})
	if err != nil {
		return "", fmt.Errorf("issue legacy token: %w", err)
	}
	sig, err := i.signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("issue legacy token: %w", err)
	}
	return sig.CompactSerialize()
}

// SecretGetter reads the Secrets legacy tokens name. Like Getter, it should
// be a cheap cache lookup: it is asked on every request with such a token.
type SecretGetter interface {
	// TokenSecret is the Secret namespace/name, ok false when there is none.
	TokenSecret(namespace, name string) (s TokenSecret, ok bool)
}

// TokenSecret is what a Verifier needs to know of a legacy token's Secret.
type TokenSecret struct {
	UID string
	// Token is its data["token"]: a legacy token is only accepted while
	// its Secret holds it.
	Token []byte
	// Labels are the Secret's labels (LastUsedLabelKey, InvalidSinceLabelKey).
	Labels map[string]string
	// Deleting is true once the Secret has a deletionTimestamp.
	Deleting bool
}

// lastUsed remembers which Secrets a Verifier has reported used today, so
// that a burst of requests reports each once, before the label arrives.
type lastUsed struct {
	report func(namespace, name, uid, date string)

	mu       sync.Mutex
	day      string
	reported map[string]bool
}

// mark reports s used at now, unless its label or an earlier report today
// says so already. Like upstream, a label of tomorrow's date (a clock
// ahead of ours) counts as current.
func (l *lastUsed) mark(namespace, name string, s TokenSecret, now time.Time) {
	if l == nil {
		return
	}
	now = now.UTC()
	today := now.Format(lastUsedLayout)
	if d := s.Labels[LastUsedLabelKey]; d == today || d == now.AddDate(0, 0, 1).Format(lastUsedLayout) {
		return
	}
	key := namespace + "/" + name + "/" + s.UID
	l.mu.Lock()
	if l.day != today {
		l.day, l.reported = today, map[string]bool{}
	}
	done := l.reported[key]
	l.reported[key] = true
	l.mu.Unlock()
	if !done {
		l.report(namespace, name, s.UID, today)
	}
}

// verifyLegacy checks the claims of a legacy token whose signature has been
// verified, as upstream's legacy validator with lookup on: its Secret must
// still hold it and its service account exist with the UID it names. There
// is no expiry to check.
func (v *Verifier) verifyLegacy(token string, body []byte, now time.Time, audiences []string) (*Claims, error) {
	var p legacyPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, errors.New("service account token: malformed claims")
	}
	if p.Issuer != LegacyIssuer {
		return nil, fmt.Errorf("token issuer %q is invalid", p.Issuer)
	}
	// A legacy token is for the API audiences alone.
	tokenAuds := []string(p.Audience)
	if len(tokenAuds) == 0 {
		tokenAuds = v.audiences
	}
	if !slices.ContainsFunc(tokenAuds, func(a string) bool { return slices.Contains(audiences, a) }) {
		return nil, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAuds, audiences)
	}
	switch {
	case p.Subject == "":
		return nil, errors.New("sub claim is missing")
	case p.Namespace == "":
		return nil, errors.New("namespace claim is missing")
	case p.SecretName == "":
		return nil, errors.New("secretName claim is missing")
	case p.ServiceAccountName == "":
		return nil, errors.New("serviceAccountName claim is missing")
	case p.ServiceAccountUID == "":
		return nil, errors.New("serviceAccountUID claim is missing")
	case p.Subject != Username(p.Namespace, p.ServiceAccountName):
		return nil, errors.New("sub claim is invalid")
	}
	ns := p.Namespace
	secret, ok := v.secrets.TokenSecret(ns, p.SecretName)
	if !ok || secret.Deleting {
		return nil, errors.New("Token has been invalidated")
	}
	if subtle.ConstantTimeCompare(secret.Token, []byte(token)) == 0 {
		return nil, errors.New("Token does not match server's copy")
	}
	uid, ok := v.getter.ServiceAccountUID(ns, p.ServiceAccountName)
	if !ok {
		return nil, fmt.Errorf("ServiceAccount %s/%s has been deleted", ns, p.ServiceAccountName)
	}
	if uid != p.ServiceAccountUID {
		return nil, fmt.Errorf("ServiceAccount UID (%s) does not match claim (%s)", uid, p.ServiceAccountUID)
	}
	// Upstream counts the use of a token marked invalid too: it tells the
	// cleaner someone still tries it.
	v.lastUsed.mark(ns, p.SecretName, secret, now)
	if secret.Labels[InvalidSinceLabelKey] != "" {
		return nil, fmt.Errorf("the token in secret %s/%s for service account %s/%s has been marked invalid. "+
			"Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '%s' label from the secret to temporarily allow use of this token",
			ns, p.SecretName, ns, p.ServiceAccountName, InvalidSinceLabelKey)
	}
	return &Claims{
		Issuer:         LegacyIssuer,
		Audiences:      slices.Clone(tokenAuds),
		Namespace:      ns,
		ServiceAccount: Ref{Name: p.ServiceAccountName, UID: p.ServiceAccountUID},
		Secret:         &Ref{Name: p.SecretName, UID: secret.UID},
	}, nil
}

// Legacy reports whether the claims are a legacy secret-based token's.
func (c *Claims) Legacy() bool { return c.Issuer == LegacyIssuer }
