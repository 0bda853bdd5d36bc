// Package disruption is the disruption controller: it keeps the status of every
// policy/v1 PodDisruptionBudget true, as upstream's does, so that the
// eviction subresource can decide whether a pod may go. For each budget it
// counts the selected pods that are healthy (Ready, not terminating, not
// recently evicted), the pods expected (from the scale of their controllers:
// ReplicationControllers, ReplicaSets, Deployments, StatefulSets, when the
// budget is a percentage or a maxUnavailable), how many must stay healthy and
// so how many disruptions are allowed now, with the DisruptionAllowed
// condition (SufficientPods, InsufficientPods, SyncFailed); it drops
// status.disruptedPods entries whose pod is gone, terminating, or was not
// deleted within DeletionTimeout. It also sets False a pod's DisruptionTarget
// condition that an eviction left True without the deletion following
// (StaleDisruptionTimeout).
//
// It works only through the API, with client-go informers and workqueues,
// and writes nothing but budgets' and pods' /status. It must not evict or
// delete pods (the API server's eviction subresource does, and decrements the
// budget), nor read scales through the scale subresource of arbitrary kinds
// (pods of other controllers fail a percentage budget's sync, as upstream's
// do when the kind has no scale).
package disruption
