// Package policy checks the kinds of the policy API group (pod disruption
// budgets) the way the Kubernetes API server does, with upstream's field
// paths, error types and messages, on the shared rules of package validation.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects (how many pods a budget covers is the disruption controller's
// business).
package policy
