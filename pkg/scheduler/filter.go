package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Upstream's reasons for a node that does not fit, word for word.
const (
	reasonUnschedulable = "node(s) were unschedulable"
	reasonAffinity      = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts         = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods   = "Too many pods"
	reasonInsufficient  = "Insufficient "

	msgNoNodes        = "no nodes available to schedule pods"
	msgNotHelpful     = "Preemption is not helpful for scheduling"
	msgNoVictims      = "No preemption victims found for incoming pod"
	msgPreemptNever   = "preemption: not eligible due to preemptionPolicy=Never."
	msgTerminating    = "preemption: not eligible due to a terminating pod on the nominated node."
	preemptionPrefix  = "preemption: "
	noNodesAvailable  = "0/%d nodes are available:"
	bindPluginFailure = "running Bind plugin \"DefaultBinder\": %v"
)

// taintReason is upstream's (v1.33) reason for an untolerated taint. Upstream
// from v1.35 hides the key and value ("node(s) had untolerated taint(s)").
func taintReason(t *corev1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}

// unschedulableTaint is what a pod must tolerate to land on a cordoned node.
var unschedulableTaint = corev1.Taint{Key: taintUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// fits runs the filters in upstream's order (NodeUnschedulable, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit) and stops at the first that fails.
// With why non-nil it appends that filter's reasons; with why nil it allocates
// nothing, which keeps the cycle cheap when most nodes are rejected.
// The second result tells whether the failure could be resolved by preempting
// pods (only ports and resources can).
func fits(pi *podInfo, n *nodeInfo, why *[]string) (ok, resolvable bool) {
	spec := &pi.pod.Spec
	if n.unschedulable && !toleratesAny(spec.Tolerations, &unschedulableTaint) {
		explain(why, reasonUnschedulable)
		return false, false
	}
	for i := range n.taints {
		if !toleratesAny(spec.Tolerations, &n.taints[i]) {
			if why != nil {
				*why = append(*why, taintReason(&n.taints[i]))
			}
			return false, false
		}
	}
	if !matchesNode(pi, n.node) {
		explain(why, reasonAffinity)
		return false, false
	}
	if len(pi.ports) > 0 && n.portsConflict(pi.ports) {
		explain(why, reasonPorts)
		return false, true
	}
	return fitsResources(pi, n, why), true
}

// fitsWithNominated is fits with the pods nominated to the node that matter
// at least as much as pi counted there, as upstream counts them: the room
// preemption made for a pod is kept for it.
func fitsWithNominated(pi *podInfo, n *nodeInfo, why *[]string) (ok, resolvable bool) {
	if len(n.nominated) == 0 {
		return fits(pi, n, why)
	}
	var added []*podInfo
	for _, nom := range n.nominated {
		if nom.uid != pi.pod.UID && nom.info.priority >= pi.priority {
			n.addPod(nom.info, +1)
			added = append(added, nom.info)
		}
	}
	ok, resolvable = fits(pi, n, why)
	for _, info := range added {
		n.addPod(info, -1)
	}
	return ok, resolvable
}

func explain(why *[]string, reason string) {
	if why != nil {
		*why = append(*why, reason)
	}
}

// matchesNode is the NodeAffinity filter: the nodeSelector labels and the
// required node affinity terms.
func matchesNode(pi *podInfo, node *corev1.Node) bool {
	for k, v := range pi.pod.Spec.NodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	if pi.selector != nil && !pi.selector.matches(node) {
		return false
	}
	return true
}

// fitsResources is the NodeResourcesFit filter. Unlike the others it reports
// every resource that is short, as upstream does.
func fitsResources(pi *podInfo, n *nodeInfo, why *[]string) bool {
	ok := true
	fail := func(reason string) bool {
		ok = false
		explain(why, reason)
		return why == nil // stop early unless explaining
	}
	if int64(n.pods)+1 > n.allocatablePod {
		if fail(reasonTooManyPods) {
			return false
		}
	}
	r := &pi.requests
	if r.milliCPU > 0 && r.milliCPU > n.allocatable.milliCPU-n.requested.milliCPU {
		if fail(reasonInsufficient + string(corev1.ResourceCPU)) {
			return false
		}
	}
	if r.memory > 0 && r.memory > n.allocatable.memory-n.requested.memory {
		if fail(reasonInsufficient + string(corev1.ResourceMemory)) {
			return false
		}
	}
	if r.ephemeralStorage > 0 && r.ephemeralStorage > n.allocatable.ephemeralStorage-n.requested.ephemeralStorage {
		if fail(reasonInsufficient + string(corev1.ResourceEphemeralStorage)) {
			return false
		}
	}
	if len(r.scalar) > 0 {
		names := make([]corev1.ResourceName, 0, len(r.scalar))
		for name := range r.scalar {
			names = append(names, name)
		}
		sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
		for _, name := range names {
			if v := r.scalar[name]; v > 0 && v > n.allocatable.scalar[name]-n.requested.scalar[name] {
				if fail(reasonInsufficient + string(name)) {
					return false
				}
			}
		}
	}
	return ok
}

// nodeVerdict is why one node was rejected, kept for the failure message.
type nodeVerdict struct {
	reasons    []string
	resolvable bool
	node       *nodeInfo
}

// fitErrorMessage builds upstream's FailedScheduling message:
//
//	0/N nodes are available: <count> <reason>, .... <postFilter>
//
// where postFilter is what preemption reports when it found nothing to do
// ("preemption: ..."), or "" when it nominated a node. The reason counts are
// sorted as strings, count included, like upstream's.
func fitErrorMessage(verdicts []nodeVerdict, postFilter string) string {
	total := len(verdicts)
	counts := map[string]int{}
	for _, v := range verdicts {
		for _, r := range v.reasons {
			counts[r]++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, noNodesAvailable, total)
	if hist := histogram(counts); hist != "" {
		b.WriteString(" " + hist + ".")
	}
	if postFilter != "" {
		b.WriteString(" " + postFilter)
	}
	return b.String()
}

func histogram(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for r, c := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", c, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// preemptionMessage is what upstream's DefaultPreemption reports when it finds
// nothing to preempt. Nodes rejected for reasons preemption cannot change are
// "not helpful"; the others are tried without their lower-priority pods, and
// with none there are "no victims"; a node where the pod does not fit even
// without them keeps its filter reasons.
func preemptionMessage(pi *podInfo, verdicts []nodeVerdict) string {
	if p := pi.pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return msgPreemptNever
	}
	counts := map[string]int{}
	for _, v := range verdicts {
		switch {
		case !v.resolvable:
			counts[msgNotHelpful]++
		case !v.node.hasLowerPriority(pi.priority):
			counts[msgNoVictims]++
		default:
			for _, r := range v.reasons {
				counts[r]++
			}
		}
	}
	return preemptionPrefix + fmt.Sprintf(noNodesAvailable, len(verdicts)) + " " + histogram(counts) + "."
}
