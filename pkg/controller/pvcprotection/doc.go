// Package pvcprotection is the PVC protection controller: a claim being
// deleted keeps the kubernetes.io/pvc-protection finalizer (which the API
// server adds on create, as upstream's StorageObjectInUseProtection admission
// does) while a pod scheduled to a node may still have it mounted, and loses
// it, so that the delete completes, once none does, as upstream's
// pvc-protection controller in kube-controller-manager decides.
//
// It works only through the API (informers and the typed client). It must not
// add the finalizer, and must not touch a claim that is not being deleted.
package pvcprotection
