// Package networking checks the kinds of the networking.k8s.io API group
// (ingresses, ingress classes, network policies, service CIDRs and IP
// addresses) the way the Kubernetes API server does, with upstream's field
// paths, error types and messages, on the shared rules of package validation.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects: whether an Ingress's backend Service or IngressClass exists is
// the ingress controller's business.
package networking
