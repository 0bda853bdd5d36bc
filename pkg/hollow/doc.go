// Package hollow runs hollow nodes: node agents with an in-memory runtime. A
// hollow node registers a Node with capacity, keeps its Lease in kube-node-lease
// renewed, re-posts its status, and moves the pods bound to it to Running with
// IPs from its podCIDR; when such a pod is deleted it finishes the deletion, as a
// kubelet does once its containers have stopped. Containers never exist and never
// exit. Hollow nodes are for tests that need nodes but not containers, and for
// scale: a hundred of them share one process.
//
// A hollow node must only ever touch its own Node, its own Lease and the pods
// bound to it; it talks to the cluster through the API alone, and its addresses
// are made up and never contacted.
package hollow
