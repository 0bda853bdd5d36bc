// Package pki issues and keeps the certificates skiff server needs: one
// self-signed cluster CA, serving certificates for the API server, client
// certificates (the admin's among them) and kubeconfig files that carry them.
// It also signs certificates for keys it never sees (SignTemplate), as the
// certificate signing request signer asks.
//
// Every Ensure function is idempotent: it reuses what is on disk while it is
// still good and replaces it otherwise, and every file is written atomically so
// that a crash never leaves half a key behind.
//
// This package must not replace an existing CA: the CA is the root of trust
// for every node and kubeconfig already handed out, so a CA that cannot be
// loaded is an error for a human to resolve, never a reason to mint a new one.
// It must not log, serve anything over the network, or know about the API
// server's flags; callers decide names, hosts and where files live.
package pki
