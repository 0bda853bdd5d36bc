// Package defaults fills in what the Kubernetes API server fills in when a client
// leaves a field empty: the SetDefaults_* rules of the v1 API types, the few
// normalisations upstream does while converting to its internal types, and the
// mutations of the admission plugins a default kube-apiserver runs on create
// (ServiceAccount, DefaultTolerationSeconds, TaintNodesByCondition).
//
// It holds the core group's kinds and what every group shares (pod templates
// and pod specs, containers, volumes); other groups' kinds live in subpackages
// named after the group (discovery, ...).
//
// Every function only sets fields that are empty and is idempotent, so running it
// twice, or on an update, changes nothing more. It must not reject objects (that is
// package validation's job) and must not look anything up: no storage, no network,
// no other objects. Where upstream needs another object (a PriorityClass, a
// ServiceAccount's token), the work is left to the API server.
package defaults
