// Package rbac checks the kinds of the rbac.authorization.k8s.io API group
// (roles, cluster roles and their bindings) the way the Kubernetes API server
// does, with upstream's field paths, error types and messages, on the shared
// rules of package validation.
//
// Upstream runs its declarative validation after the hand-written one, and
// where both find a fault the declarative words win ("Required value", with
// no detail) and come last; this package reports them so, and, like
// upstream, leaves a field an update does not change to the hand-written
// words.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult other objects:
// whether a binding's role exists, and whether the writer holds the
// permissions a role grants (upstream's escalation check), are not its
// business.
package rbac
