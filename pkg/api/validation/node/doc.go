// Package node checks the kinds of the node.k8s.io API group (runtime
// classes) the way the Kubernetes API server does, with upstream's field
// paths, error types and messages, on the shared rules of package validation
// (object metadata, names, tolerations, resources).
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects: whether a pod's RuntimeClass exists is admission's business.
package node
