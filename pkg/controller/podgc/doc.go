// Package podgc is the pod garbage collector: every CheckPeriod (20s) it
// looks once over the cached pods and nodes and, as upstream's podgc
// controller in kube-controller-manager does,
//
//   - deletes the oldest terminated pods (Succeeded or Failed; evicted ones
//     first) beyond TerminatedPodThreshold;
//   - force-deletes terminating pods on a node that is not Ready and carries
//     the node.kubernetes.io/out-of-service taint;
//   - force-deletes pods bound to a node that does not exist, once the node
//     has been missing from the cache for the Quarantine (40s) and a direct
//     GET confirms it is gone;
//   - force-deletes terminating pods that were never scheduled.
//
// A pod it force-deletes that is not terminal yet is first marked Failed
// through pods/status (an orphan also gets a DisruptionTarget condition,
// reason DeletionByPodGC), so that whoever watches it sees how it ended.
//
// It works only through the API (informers and the typed client). It must
// not delete a pod whose node may still run it: a pod on a node that merely
// went silent is nodelifecycle's to evict, gracefully.
package podgc
