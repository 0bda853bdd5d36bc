// Package validation checks API objects the way the Kubernetes API server
// does, with upstream's field paths, error types and messages, so that kubectl
// prints the same "is invalid" lines against Skiff as against a real cluster.
//
// It holds the core group's kinds (pods, pod templates, services, ...) and the
// rules every group shares: object metadata, names, label selectors, pod
// templates and pod specs, containers, volumes, probes, resources, IP
// addresses and ports. Other groups' kinds live in subpackages named after the
// group (coordination, discovery, ...), built on those shared rules.
//
// Objects are validated after package defaults has run on them, as upstream
// does; a field that defaulting always fills is reported as required when empty.
// Validation must not change what it is given and must not consult storage or
// other objects: uniqueness, quota, allocation and the existence of referenced
// objects are the API server's business.
package validation
