// Package networking fills in what the Kubernetes API server fills in when a
// client leaves a field of a networking.k8s.io object empty (network
// policies' types and port protocols, ingress classes' parameter scope), by
// the same rules as package defaults. Ingresses have no defaults: an HTTP
// path's pathType must be given.
//
// Every function only sets fields that are empty and is idempotent. It must
// not reject objects (that is validation's job) and must not look anything
// up: no storage, no network, no other objects (the default IngressClass of
// an Ingress is admission's choice, in package registry/networking).
package networking
