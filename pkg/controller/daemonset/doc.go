// Package daemonset is the DaemonSet controller: it keeps one pod of each
// apps/v1 DaemonSet on every node that the pod template's nodeSelector,
// required node affinity and tolerations admit (plus the tolerations upstream
// gives every daemon pod), deletes daemon pods from nodes that stop being
// eligible or go away, replaces failed daemon pods with a per-node back-off,
// rolls template changes out with the RollingUpdate (maxUnavailable or
// maxSurge) or OnDelete strategy, records every template as a
// ControllerRevision (which `kubectl rollout history|undo ds` read) and trims
// them to revisionHistoryLimit, and keeps the DaemonSet's status true through
// /status.
//
// Like upstream it does not bind pods: each pod it creates carries a required
// node affinity on metadata.name for its node, and the scheduler binds it.
// It works only through the API, with client-go informers and a workqueue. It
// must not delete a DaemonSet's pods or revisions when the DaemonSet goes (that
// is the garbage collector's job) and must not write anything of a DaemonSet
// but its status.
package daemonset
