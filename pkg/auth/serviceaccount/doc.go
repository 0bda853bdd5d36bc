// Package serviceaccount issues and verifies service account tokens as
// upstream's kube-apiserver does: bound tokens (TokenRequest, projected
// volumes) signed with ES256, carrying the "kubernetes.io" private claim that
// names the service account and the pod, secret or node the token is bound
// to, and the OIDC discovery documents that let others verify them; and the
// legacy tokens kept in Secrets of type kubernetes.io/service-account-token
// (issuer "kubernetes/serviceaccount", no expiry), signed with the same key.
//
// A Key is the signing key kept on disk; an Issuer signs Claims (and
// LegacyClaims) with it; a Verifier checks a token's signature, issuer,
// audiences and lifetime, then asks a Getter whether the objects the token is
// bound to still exist with the same UIDs (and, for a legacy token, a
// SecretGetter whether its Secret still holds it), and returns the claims,
// whose User is the identity a request carrying the token authenticates as.
// Discovery serves /.well-known/openid-configuration and /openid/v1/jwks.
//
// The package must not read or write the API or storage itself (a Getter
// answers for it, and a callback labels a used legacy token's Secret), must
// not log, must not accept a legacy token without a SecretGetter to check it
// against, must not accept any signing algorithm but ES256 and RS256, must
// not put a token in an error message, and must not replace a signing key it
// cannot load: every token already handed out depends on that key, so a key
// that cannot be read is an error for a human to resolve.
package serviceaccount
