// Package statefulset is the StatefulSet controller: it runs each apps/v1
// StatefulSet as pods with stable identities NAME-ORDINAL (from
// spec.ordinals.start), hostname and subdomain (spec.serviceName), and volumes
// naming the claims TEMPLATE-NAME-ORDINAL of its volumeClaimTemplates. With the
// OrderedReady policy it creates pods one at a time in ordinal order, each after
// its predecessors are Running, Ready and available, and removes them in
// reverse; with Parallel it does both at once. It records the pod template's
// history as ControllerRevisions (through pkg/controller/history), rolls pods
// onto a new revision from the highest ordinal down to the partition, at most
// maxUnavailable at a time (RollingUpdate) or only as they are deleted
// (OnDelete), trims the history to revisionHistoryLimit, and keeps the
// StatefulSet's status true through /status.
//
// It works only through the API with client-go informers and a workqueue. It
// must not create PersistentVolumeClaims: Skiff does not serve them yet, so the
// pods only name their claims. Nor does it delete a StatefulSet's pods or
// revisions when the StatefulSet goes (that is the garbage collector's job).
package statefulset
