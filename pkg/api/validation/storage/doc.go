// Package storage checks the kinds of the storage.k8s.io API group (storage
// classes, volume attributes classes, CSI drivers and nodes, volume
// attachments, storage capacities) the way the Kubernetes API server does,
// with upstream's field paths, error types and messages, on the shared rules
// of package validation.
//
// As in package validation, objects are validated after defaulting, and
// validation must not change what it is given nor consult storage or other
// objects: whether a class's provisioner or an attachment's node exists is
// nobody's business at admission.
package storage
