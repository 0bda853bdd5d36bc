// Package resource checks the kinds of the resource.k8s.io API group (dynamic
// resource allocation: device classes, resource claims and their templates,
// resource slices, device taint rules) the way the Kubernetes API server
// does, with upstream's field paths, error types and messages, on the shared
// rules of package validation.
//
// It holds the main rules: names, references between requests, sizes,
// required and exclusive fields, what may not change. CEL selectors are
// checked for presence and size only; compiling them is the scheduler's
// business here. As in package validation, objects are validated after
// defaulting, and validation must not change what it is given nor consult
// storage or other objects.
package resource
