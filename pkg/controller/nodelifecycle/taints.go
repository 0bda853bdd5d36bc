package nodelifecycle

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// managedTaints are the taints this controller owns: it adds them when a
// node's conditions call for them and removes them when they no longer do.
var managedTaints = map[string]bool{
	corev1.TaintNodeNotReady:           true,
	corev1.TaintNodeUnreachable:        true,
	corev1.TaintNodeMemoryPressure:     true,
	corev1.TaintNodeDiskPressure:       true,
	corev1.TaintNodePIDPressure:        true,
	corev1.TaintNodeNetworkUnavailable: true,
	corev1.TaintNodeUnschedulable:      true,
}

// conditionTaints are the taints node's conditions call for (upstream's
// NoExecute tainting and TaintNodesByCondition): not-ready for Ready=False,
// unreachable for Ready=Unknown (both NoSchedule and NoExecute), a NoSchedule
// taint for each pressure or NetworkUnavailable condition that is True, and
// unschedulable for a cordoned node. A node that never posted a Ready condition
// gets none.
func conditionTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	both := func(key string) {
		out = append(out,
			corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: key, Effect: corev1.TaintEffectNoExecute})
	}
	for _, c := range node.Status.Conditions {
		switch c.Type {
		case corev1.NodeReady:
			switch c.Status {
			case corev1.ConditionFalse:
				both(corev1.TaintNodeNotReady)
			case corev1.ConditionUnknown:
				both(corev1.TaintNodeUnreachable)
			}
		case corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeNetworkUnavailable:
			if c.Status == corev1.ConditionTrue {
				out = append(out, corev1.Taint{Key: pressureTaint[c.Type], Effect: corev1.TaintEffectNoSchedule})
			}
		}
	}
	if node.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	return out
}

var pressureTaint = map[corev1.NodeConditionType]string{
	corev1.NodeMemoryPressure:     corev1.TaintNodeMemoryPressure,
	corev1.NodeDiskPressure:       corev1.TaintNodeDiskPressure,
	corev1.NodePIDPressure:        corev1.TaintNodePIDPressure,
	corev1.NodeNetworkUnavailable: corev1.TaintNodeNetworkUnavailable,
}

// mergeTaints is current with the managed taints replaced by want: taints it
// does not manage and wanted ones already there stay as they are (with their
// timeAdded); new ones are stamped now. It reports whether anything changed.
func mergeTaints(current, want []corev1.Taint, now metav1.Time) ([]corev1.Taint, bool) {
	out := make([]corev1.Taint, 0, len(current)+len(want))
	changed := false
	for _, t := range current {
		if managedTaints[t.Key] && !containsTaint(want, t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	for _, w := range want {
		if !containsTaint(out, w) {
			w.TimeAdded = &now
			out = append(out, w)
			changed = true
		}
	}
	return out, changed
}

// containsTaint: taints are identified by key and effect.
func containsTaint(taints []corev1.Taint, t corev1.Taint) bool {
	for _, x := range taints {
		if x.Key == t.Key && x.Effect == t.Effect {
			return true
		}
	}
	return false
}

func (c *Controller) reconcileTaints(ctx context.Context, node *corev1.Node) error {
	taints, changed := mergeTaints(node.Spec.Taints, conditionTaints(node), metav1.NewTime(c.clock.Now()))
	if !changed {
		return nil
	}
	updated := node.DeepCopy()
	updated.Spec.Taints = taints
	if _, err := c.client.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating taints of node %q: %w", node.Name, err)
	}
	return nil
}

func noExecuteTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func sameTaints(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for _, t := range a {
		found := false
		for _, u := range b {
			if t.Key == u.Key && t.Effect == u.Effect && t.Value == u.Value && t.TimeAdded.Equal(u.TimeAdded) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
