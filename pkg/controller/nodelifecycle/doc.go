// Package nodelifecycle is the node lifecycle controller: it watches node
// heartbeats (Leases in kube-node-lease and the Node's status conditions),
// marks a node that went silent for the grace period Ready=Unknown and its pods
// not ready, keeps the node's condition taints (node.kubernetes.io/unreachable,
// not-ready, the pressure taints and unschedulable) in line with its conditions,
// and evicts pods that do not tolerate a NoExecute taint, or have tolerated it
// for their tolerationSeconds.
//
// It only reads heartbeats and writes what upstream's node lifecycle and taint
// eviction controllers write: node conditions it owns when the kubelet is
// silent, the condition taints, pods' Ready condition and DisruptionTarget, and
// pod deletions. It must not remove taints it does not manage, and must not
// force-delete pods: a pod on an unreachable node stays Terminating until its
// node comes back or is deleted.
package nodelifecycle
