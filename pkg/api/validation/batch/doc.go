// Package batch checks the kinds of the batch API group (jobs and cron jobs)
// the way the Kubernetes API server does, with upstream's field paths, error
// types and messages, on the shared rules of package validation (object
// metadata, pod templates). Where upstream's rules depend on a feature gate,
// they follow the gate's default in Kubernetes 1.37.
//
// As in package validation, objects are validated after defaulting (a job
// also after the API server generated its selector). Validation must not
// change what it is given nor consult storage or other objects.
package batch
