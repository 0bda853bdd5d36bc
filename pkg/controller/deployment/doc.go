// Package deployment is the Deployment controller: it rolls each apps/v1
// Deployment out as ReplicaSets, one per pod template (named DEPLOYMENT-HASH and
// labelled with the pod-template-hash that upstream computes), with the
// RollingUpdate (maxSurge/maxUnavailable) or Recreate strategy; it scales them
// proportionally when a Deployment is resized mid-rollout or while paused, keeps
// the revision annotations that `kubectl rollout history|undo` read, deletes old
// empty ReplicaSets past revisionHistoryLimit, and keeps the Deployment's status
// (counts, the Progressing and Available conditions with upstream's reasons and
// messages, the progress deadline, collisionCount) true through /status.
//
// It works only through the API, with client-go informers and a workqueue, and
// does per-ReplicaSet work: pod counts come from the ReplicaSets' status as the
// ReplicaSet controller writes it; pods are looked at only by a Recreate rollout
// waiting for the old ones to go, through an index by owner. It must not create,
// delete or count pods itself (that is the ReplicaSet controller's job), nor
// delete a Deployment's ReplicaSets when the Deployment goes (the garbage
// collector's).
package deployment
