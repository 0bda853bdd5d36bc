// Package pvprotection is the PV protection controller: a volume being
// deleted keeps the kubernetes.io/pv-protection finalizer (which the API
// server adds on create, as upstream's StorageObjectInUseProtection admission
// does) while it is Bound to a claim, and loses it, so that the delete
// completes, once it is not, as upstream's pv-protection controller in
// kube-controller-manager decides.
//
// It works only through the API (informers and the typed client). It must not
// add the finalizer, and must not touch a volume that is not being deleted.
package pvprotection
