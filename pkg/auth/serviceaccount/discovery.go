package serviceaccount

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// The paths kube-apiserver serves the OIDC discovery documents at.
const (
	OpenIDConfigPath = "/.well-known/openid-configuration"
	JWKSPath         = "/openid/v1/jwks"
)

// discoveryMaxAge is how long clients may cache the documents, upstream's
// for static keys: a new key must be published this long before it signs.
const discoveryMaxAge = 3600

// Discovery holds the rendered OIDC discovery documents of the token issuer:
// the provider configuration and the JWKS of the public keys, so that
// relying parties outside the cluster can verify service account tokens.
// It serves both paths as an http.Handler.
type Discovery struct {
	config []byte
	keyset []byte
}

// NewDiscovery renders the documents for issuer (an https URL without query
// or fragment, as OIDC requires), the keys tokens are signed with, and the
// URL the JWKS is reachable at: jwksURI, or when empty issuer + JWKSPath,
// which is the API server itself when the issuer is its in-cluster URL.
func NewDiscovery(issuer, jwksURI string, keys []crypto.PublicKey) (*Discovery, error) {
	iss, err := url.Parse(issuer)
	switch {
	case err != nil:
		return nil, fmt.Errorf("openid discovery: issuer URL: %w", err)
	case iss.Scheme != "https":
		return nil, fmt.Errorf("openid discovery: issuer URL must use https scheme, got: %s", issuer)
	case iss.RawQuery != "" || iss.Fragment != "":
		return nil, fmt.Errorf("openid discovery: issuer URL may not include a query or fragment, got: %s", issuer)
	}
	if jwksURI == "" {
		jwksURI = strings.TrimSuffix(issuer, "/") + JWKSPath
	} else if u, err := url.Parse(jwksURI); err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("openid discovery: JWKS URI requires the https scheme, got: %s", jwksURI)
	}
	if len(keys) == 0 {
		return nil, errors.New("openid discovery: no keys")
	}

	var set jose.JSONWebKeySet
	var algs []string
	for i, k := range keys {
		public, alg, err := publicKey(k)
		if err != nil {
			return nil, fmt.Errorf("openid discovery: key #%d: %w", i, err)
		}
		id, err := KeyID(public)
		if err != nil {
			return nil, fmt.Errorf("openid discovery: key #%d: %w", i, err)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: public, KeyID: id, Algorithm: string(alg), Use: "sig"})
		algs = append(algs, string(alg))
	}
	slices.Sort(algs)

	d := &Discovery{}
	d.config, err = json.Marshal(struct {
		Issuer        string   `json:"issuer"`
		JWKSURI       string   `json:"jwks_uri"`
		ResponseTypes []string `json:"response_types_supported"`
		SubjectTypes  []string `json:"subject_types_supported"`
		SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
	}{
		Issuer:        issuer,
		JWKSURI:       jwksURI,
		ResponseTypes: []string{"id_token"}, // Kubernetes only produces ID tokens
		SubjectTypes:  []string{"public"},
		SigningAlgs:   slices.Compact(algs),
	})
	if err != nil {
		return nil, fmt.Errorf("openid discovery: %w", err)
	}
	if d.keyset, err = json.Marshal(&set); err != nil {
		return nil, fmt.Errorf("openid discovery: %w", err)
	}
	return d, nil
}

// ConfigJSON is the document served at OpenIDConfigPath.
func (d *Discovery) ConfigJSON() []byte { return d.config }

// KeysetJSON is the document served at JWKSPath.
func (d *Discovery) KeysetJSON() []byte { return d.keyset }

// ServeHTTP answers GET and HEAD for OpenIDConfigPath (application/json) and
// JWKSPath (application/jwk-set+json, RFC 7517), cacheable by anyone for an
// hour, as upstream's. Whether anonymous clients may read them is the
// caller's authorization (upstream's system:service-account-issuer-discovery).
func (d *Discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	var contentType string
	switch r.URL.Path {
	case OpenIDConfigPath:
		body, contentType = d.config, "application/json"
	case JWKSPath:
		body, contentType = d.keyset, "application/jwk-set+json"
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(discoveryMaxAge))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}
