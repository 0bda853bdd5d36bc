package serviceaccount

import (
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultIssuer is the "iss" of tokens when none is configured, as
// kube-apiserver's --service-account-issuer is usually set.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// User names, groups and extra keys a service account authenticates with,
// as k8s.io/apiserver/pkg/authentication/serviceaccount spells them.
const (
	UsernamePrefix          = "system:serviceaccount:"
	AllServiceAccountsGroup = "system:serviceaccounts"
	NamespaceGroupPrefix    = "system:serviceaccounts:"

	PodNameKey      = "authentication.kubernetes.io/pod-name"
	PodUIDKey       = "authentication.kubernetes.io/pod-uid"
	NodeNameKey     = "authentication.kubernetes.io/node-name"
	NodeUIDKey      = "authentication.kubernetes.io/node-uid"
	CredentialIDKey = "authentication.kubernetes.io/credential-id"
)

// Upstream's safe rollout of time-bound projected tokens: a kubelet that asks
// for a pod-bound token of exactly WarnOnlyExpirationSeconds gets one that
// lasts ExtendedExpirationSeconds instead, with WarnAfter set to the time it
// asked for. TokenRequest applies this (with --service-account-extend-token-expiration);
// Issue only writes the claims it is given.
const (
	WarnOnlyExpirationSeconds = 60*60 + 7
	ExtendedExpirationSeconds = 24 * 365 * 60 * 60
)

// Claims are what a service account token says: the registered JWT claims
// and upstream's private "kubernetes.io" claim.
type Claims struct {
	// Issuer is the "iss"; Issue always writes its own.
	Issuer string
	// Audiences ("aud") are who the token is for.
	Audiences []string
	// IssuedAt ("iat"), NotBefore ("nbf") and Expiry ("exp") have a
	// precision of one second.
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	// ID is the "jti", a random UUID; the credential ID "JTI=<ID>" names
	// the token in audit logs without revealing it.
	ID string

	Namespace      string
	ServiceAccount Ref
	// The object the token is bound to: a Pod (with the Node it runs on,
	// whose UID may be empty), a Secret, or a Node; or none.
	Pod    *Ref
	Secret *Ref
	Node   *Ref
	// WarnAfter, when set, is when an extended token (see
	// WarnOnlyExpirationSeconds) would have expired.
	WarnAfter time.Time
}

// Ref names a bound object and the UID it had when the token was issued.
type Ref struct {
	Name string
	UID  string
}

// User is the identity a token authenticates: upstream's ServiceAccountInfo.UserInfo.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Username is "system:serviceaccount:NAMESPACE:NAME", the token's "sub".
func Username(namespace, name string) string {
	return UsernamePrefix + namespace + ":" + name
}

// CredentialID is "JTI=<ID>", or "" for a token without an ID.
func (c *Claims) CredentialID() string {
	if c.ID == "" {
		return ""
	}
	return "JTI=" + c.ID
}

// User is who a request carrying the token is: the service account, in the
// groups of all service accounts and of its namespace, with the pod and node
// it is bound to and the credential ID as extra.
func (c *Claims) User() User {
	u := User{
		Name:   Username(c.Namespace, c.ServiceAccount.Name),
		UID:    c.ServiceAccount.UID,
		Groups: []string{AllServiceAccountsGroup, NamespaceGroupPrefix + c.Namespace},
	}
	extra := map[string][]string{}
	if c.Pod != nil && c.Pod.Name != "" && c.Pod.UID != "" {
		extra[PodNameKey] = []string{c.Pod.Name}
		extra[PodUIDKey] = []string{c.Pod.UID}
	}
	if id := c.CredentialID(); id != "" {
		extra[CredentialIDKey] = []string{id}
	}
	if c.Node != nil && c.Node.Name != "" {
		extra[NodeNameKey] = []string{c.Node.Name}
		if c.Node.UID != "" {
			extra[NodeUIDKey] = []string{c.Node.UID}
		}
	}
	if len(extra) > 0 {
		u.Extra = extra
	}
	return u
}

// payload is the token's JSON. Its fields are in alphabetical order so that
// it serializes byte for byte as upstream's (go-jose merges its claim sets
// through maps, which marshal sorted).
type payload struct {
	Audience   audience         `json:"aud,omitempty"`
	Expiry     *jwt.NumericDate `json:"exp,omitempty"`
	IssuedAt   *jwt.NumericDate `json:"iat,omitempty"`
	Issuer     string           `json:"iss,omitempty"`
	ID         string           `json:"jti,omitempty"`
	Kubernetes kubernetesClaims `json:"kubernetes.io"`
	NotBefore  *jwt.NumericDate `json:"nbf,omitempty"`
	Subject    string           `json:"sub,omitempty"`
}

type kubernetesClaims struct {
	Namespace      string           `json:"namespace,omitempty"`
	Node           *ref             `json:"node,omitempty"`
	Pod            *ref             `json:"pod,omitempty"`
	Secret         *ref             `json:"secret,omitempty"`
	ServiceAccount ref              `json:"serviceaccount"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

type ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// audience is always written as a list, as upstream's go-jose v2 does, and
// read from a list or a single string (RFC 7519 allows both).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	return (*jwt.Audience)(a).UnmarshalJSON(b)
}

func toPayload(c *Claims) payload {
	return payload{
		Audience:  c.Audiences,
		Expiry:    jwt.NewNumericDate(c.Expiry),
		IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		Issuer:    c.Issuer,
		ID:        c.ID,
		NotBefore: jwt.NewNumericDate(c.NotBefore),
		Subject:   Username(c.Namespace, c.ServiceAccount.Name),
		Kubernetes: kubernetesClaims{
			Namespace:      c.Namespace,
			ServiceAccount: ref(c.ServiceAccount),
			Pod:            toRef(c.Pod),
			Secret:         toRef(c.Secret),
			Node:           toRef(c.Node),
			WarnAfter:      jwt.NewNumericDate(c.WarnAfter),
		},
	}
}

func (p *payload) claims() *Claims {
	return &Claims{
		Issuer:         p.Issuer,
		Audiences:      p.Audience,
		IssuedAt:       numericTime(p.IssuedAt),
		NotBefore:      numericTime(p.NotBefore),
		Expiry:         numericTime(p.Expiry),
		ID:             p.ID,
		Namespace:      p.Kubernetes.Namespace,
		ServiceAccount: Ref(p.Kubernetes.ServiceAccount),
		Pod:            fromRef(p.Kubernetes.Pod),
		Secret:         fromRef(p.Kubernetes.Secret),
		Node:           fromRef(p.Kubernetes.Node),
		WarnAfter:      numericTime(p.Kubernetes.WarnAfter),
	}
}

func toRef(r *Ref) *ref {
	if r == nil {
		return nil
	}
	return &ref{Name: r.Name, UID: r.UID}
}

func fromRef(r *ref) *Ref {
	if r == nil {
		return nil
	}
	return &Ref{Name: r.Name, UID: r.UID}
}

// numericTime is the zero time for an absent date, which time.Unix(0, 0)
// would not be.
func numericTime(n *jwt.NumericDate) time.Time {
	if n == nil {
		return time.Time{}
	}
	return n.Time()
}
