// Package resource fills in what the Kubernetes API server fills in when a
// client leaves a field of a resource.k8s.io object empty (device requests'
// allocation mode and count, tolerations' operator, taints' time added), by
// the same rules as package defaults.
//
// Every function only sets fields that are empty and is idempotent. It must
// not reject objects (that is validation's job) and must not look anything
// up: no storage, no network, no other objects.
package resource
