// Package discovery fills in what the Kubernetes API server fills in when a
// client leaves a field of a discovery.k8s.io object empty (endpoint slices),
// by the same rules as package defaults.
//
// Every function only sets fields that are empty and is idempotent. It must
// not reject objects (that is validation's job) and must not look anything
// up: no storage, no network, no other objects.
package discovery
