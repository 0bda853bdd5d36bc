// Package history keeps a controller's apps/v1 ControllerRevisions: snapshots of
// a parent's template (a StatefulSet's or a DaemonSet's) named PARENT-HASH and
// numbered by revision, which `kubectl rollout history|undo` read and write.
//
// It hashes, names, compares and sorts revisions like upstream's
// pkg/controller/history, so the names a user sees match Kubernetes', and its
// Client creates (with collision handling), renumbers, deletes, adopts and
// releases them through the API. It must not decide which revisions to keep or
// which one is current: that is the parent's controller's business.
package history
