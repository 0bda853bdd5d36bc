// Package apps checks the kinds of the apps API group (deployments, replica
// sets, daemon sets, stateful sets, controller revisions) the way the
// Kubernetes API server does, with upstream's field paths, error types and
// messages, on the shared rules of package validation (object metadata,
// names, pod templates and pod specs) and apimachinery's label selector rules.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects (the pods a selector would match, the Service a StatefulSet names).
package apps
