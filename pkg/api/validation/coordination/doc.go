// Package coordination checks the kinds of the coordination.k8s.io API group
// (leases) the way the Kubernetes API server does, with upstream's field
// paths, error types and messages, on the shared rules of package validation
// (object metadata, names).
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects.
package coordination
