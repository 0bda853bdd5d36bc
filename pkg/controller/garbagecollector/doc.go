// Package garbagecollector deletes objects whose owners are gone, following
// metadata.ownerReferences the way upstream's garbage collector does:
// Background (dependents go after their owner is gone), Foreground (an owner
// with the foregroundDeletion finalizer waits until its blocking dependents are
// gone, then loses the finalizer) and Orphan (an owner with the orphan finalizer
// first strips its ownerReference from every dependent, then loses the
// finalizer). A dependent is deleted only when every owner it names is absent,
// which is confirmed with a live read before anything is deleted.
//
// It sees the kinds listed in Resources through the shared informers and writes
// through the dynamic client, so it can also run out of process. It must not
// delete an object that still has an owner, nor decide anything about owners of
// kinds it cannot look up (such references are treated as present).
package garbagecollector
