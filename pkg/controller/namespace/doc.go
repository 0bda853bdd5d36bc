// Package namespace is the namespace lifecycle controller: once a namespace is
// being deleted (deletionTimestamp set, phase Terminating) it deletes every
// namespaced object in it, of every served resource found through discovery
// (its pods first: nothing else is deleted while a pod remains, so that no pod
// outlives what it uses), waits until they are gone, reports progress in the namespace's status
// conditions as upstream does, and finally removes the "kubernetes" finalizer
// through the finalize subresource so the API server can remove the namespace.
//
// It works only through the API (informers, discovery and the dynamic
// client), so it can also run out of process. It must not finalize a namespace
// while anything is left in it, and must not touch namespaces that are not
// being deleted.
package namespace
