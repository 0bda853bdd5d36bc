package daemonset

import (
	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// daemonTolerations are the tolerations upstream gives every daemon pod, so
// that node problems neither keep it off a node nor evict it (no
// tolerationSeconds: forever). Network-unavailable is tolerated by
// host-network pods only, which do not need the pod network.
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

var hostNetworkToleration = corev1.Toleration{
	Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
}

// withDaemonTolerations returns spec's tolerations plus the daemon ones; a
// template toleration of the same key, operator, value and effect is
// replaced by the daemon one (as upstream does), others are kept.
func withDaemonTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	extra := daemonTolerations
	if spec.HostNetwork {
		extra = append(append([]corev1.Toleration(nil), daemonTolerations...), hostNetworkToleration)
	}
	out := make([]corev1.Toleration, 0, len(spec.Tolerations)+len(extra))
	out = append(out, spec.Tolerations...)
	for _, add := range extra {
		replaced := false
		for i := range out {
			if out[i].MatchToleration(&add) {
				out[i] = add
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, add)
		}
	}
	return out
}

// placement decides which nodes a DaemonSet's pods belong on. It is built
// once per sync or event: parsing the affinity is the costly part.
type placement struct {
	nodeName    string // the template's spec.nodeName, if any
	tolerations []corev1.Toleration
	affinity    nodeaffinity.RequiredNodeAffinity
}

func newPlacement(ds *appsv1.DaemonSet) *placement {
	spec := &ds.Spec.Template.Spec
	return &placement{
		nodeName:    spec.NodeName,
		tolerations: withDaemonTolerations(spec),
		affinity:    nodeaffinity.NewRequiredNodeAffinity(spec.NodeSelector, spec.Affinity),
	}
}

// check reports whether a daemon pod should be started on node (shouldRun),
// and whether one already there may stay (shouldContinue): a node whose
// NoSchedule taints the pod does not tolerate keeps the pods it has, one with
// an untolerated NoExecute taint does not.
func (p *placement) check(node *corev1.Node) (shouldRun, shouldContinue bool) {
	if p.nodeName != "" && p.nodeName != node.Name {
		return false, false
	}
	// An affinity that fails to parse matches nothing, as upstream.
	if ok, _ := p.affinity.Match(node); !ok {
		return false, false
	}
	shouldRun, shouldContinue = true, true
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if p.tolerates(t) {
			continue
		}
		shouldRun = false
		if t.Effect == corev1.TaintEffectNoExecute {
			return false, false
		}
	}
	return shouldRun, shouldContinue
}

func (p *placement) tolerates(t *corev1.Taint) bool {
	for i := range p.tolerations {
		if p.tolerations[i].ToleratesTaint(logr.Discard(), t, false) {
			return true
		}
	}
	return false
}

// targetNode is the node a daemon pod is for: the one it is bound to or,
// before the scheduler binds it, the one its node affinity names.
func targetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range term.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// pinToNode returns affinity with its required node affinity replaced by one
// term selecting node by name, which the scheduler honours; the rest of the
// affinity is kept. affinity is modified in place when non-nil.
func pinToNode(affinity *corev1.Affinity, node string) *corev1.Affinity {
	required := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{
			Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node},
		}},
	}}}
	if affinity == nil {
		affinity = &corev1.Affinity{}
	}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = required
	return affinity
}
