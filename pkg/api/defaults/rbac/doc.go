// Package rbac fills in what the Kubernetes API server fills in when a
// client leaves a field of an rbac.authorization.k8s.io object empty: the
// API group of a binding's roleRef, and of its User and Group subjects, is
// rbac.authorization.k8s.io. Roles have no defaults.
//
// Every function only sets fields that are empty and is idempotent. It must
// not reject objects (that is validation's job) and must not look anything
// up: no storage, no network, no other objects.
package rbac
