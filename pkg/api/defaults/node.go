package defaults

import (
	corev1 "k8s.io/api/core/v1"
)

// Node defaults a node on every write: allocatable equals capacity until the
// node reports otherwise, and quantities are rounded like any resource list.
func Node(n *corev1.Node) {
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = make(corev1.ResourceList, len(n.Status.Capacity))
		for name, q := range n.Status.Capacity {
			n.Status.Allocatable[name] = q.DeepCopy()
		}
	}
	roundUp(n.Status.Capacity)
	roundUp(n.Status.Allocatable)
}

// NewNode defaults a node being registered: Node plus the TaintNodesByCondition
// admission plugin's not-ready NoSchedule taint, so nothing is scheduled on the
// node before its controller has seen it ready. It must not run on updates, or the
// taint would come back after the node lifecycle controller removed it.
func NewNode(n *corev1.Node) {
	Node(n)
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	for _, t := range n.Spec.Taints {
		if t.MatchTaint(&notReady) {
			return
		}
	}
	n.Spec.Taints = append(n.Spec.Taints, notReady)
}
