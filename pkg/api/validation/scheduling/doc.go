// Package scheduling checks the kinds of the scheduling.k8s.io API group
// (priority classes) the way the Kubernetes API server does, with upstream's
// field paths, error types and messages, on the shared rules of package
// validation.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult other objects:
// that only one class is the global default is admission's business.
package scheduling
