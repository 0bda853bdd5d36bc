// Package replication runs the sets of pods that keep spec.replicas copies of
// a template: the ReplicationManager (v1 ReplicationControllers, map
// selectors; New) and the ReplicaSet controller (apps/v1 ReplicaSets,
// set-based selectors; NewReplicaSets). One loop serves both: it creates
// pods from the template with a controller ownerReference, adopts matching
// orphans, releases pods whose labels stop matching, replaces deleted or
// finished pods, deletes the surplus (the least valuable first, ranked as
// upstream does) and keeps the status (replicas, fullyLabeledReplicas,
// readyReplicas, availableReplicas, observedGeneration, the ReplicaFailure
// condition and, for ReplicaSets, terminatingReplicas) true through the
// /status subresource. What differs by kind is behind the small set and kind
// interfaces of kind.go, with one adapter per kind (rc.go, rs.go).
//
// It works only through the API (client-go informers, listers and a
// rate-limited workqueue), so it can also run out of process. It must not
// delete a set's pods when the set is deleted (that is the garbage
// collector's job), must not create pods for a set that is being deleted, and
// must not write anything of a set but its status (a Deployment's annotations
// on its ReplicaSets and their spec.replicas are the deployment controller's).
package replication
