// Package storage fills in what the Kubernetes API server fills in when a
// client leaves a field of a storage.k8s.io object empty (storage classes'
// reclaim policy and binding mode, CSI drivers' capabilities), by the same
// rules as package defaults.
//
// Every function only sets fields that are empty and is idempotent. It must
// not reject objects (that is validation's job) and must not look anything
// up: no storage, no network, no other objects.
package storage
