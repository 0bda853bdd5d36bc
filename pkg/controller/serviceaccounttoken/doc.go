// Package serviceaccounttoken is the tokens controller: a Secret of type
// kubernetes.io/service-account-token annotated with the service account it
// is for (kubernetes.io/service-account.name, optionally .uid) gets a legacy,
// non-expiring token for that account under data["token"], the cluster CA
// bundle under ca.crt and its namespace under namespace, and the account's
// UID as annotation; such a Secret whose account does not exist, or exists
// with another UID, is deleted; a deleted one is taken out of its account's
// secrets list. This is upstream's serviceaccount-token-controller in
// kube-controller-manager, which users still rely on for long-lived tokens
// (kubectl create secret ... --type=kubernetes.io/service-account-token).
//
// It works only through the API (informers and the typed client), so it can
// also run out of process, and signs with an Issuer it is given. It watches
// Secrets of that one type only, must not touch any other Secret, must not
// replace a token a Secret already holds, and creates no Secrets: since
// upstream v1.24 nobody generates them for every service account.
package serviceaccounttoken
