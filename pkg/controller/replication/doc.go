// Package replication is the ReplicationManager: it keeps spec.replicas pods
// matching each ReplicationController's selector, creating them from the template
// with a controller ownerReference, adopting matching orphans, releasing pods
// whose labels stop matching, replacing deleted or finished pods, deleting the
// surplus (the least valuable first, ranked as upstream does) and keeping the RC's
// status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
// observedGeneration) true through the /status subresource.
//
// It works only through the API (client-go informers, listers and a
// rate-limited workqueue), so it can also run out of process. It must not
// delete an RC's pods when the RC is deleted (that is the garbage collector's
// job), and must not create pods for an RC that is being deleted.
package replication
