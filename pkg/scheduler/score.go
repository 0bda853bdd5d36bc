package scheduler

import "math"

// maxScore is the best score a plugin gives a node; weights follow upstream's
// default profile.
const (
	maxScore = 100

	weightLeastAllocated   = 1 // NodeResourcesFit, LeastAllocated strategy
	weightBalanced         = 1 // NodeResourcesBalancedAllocation
	weightSpread           = 2 // PodTopologySpread's default per-node spreading
	weightNodeAffinity     = 2 // preferred node affinity
	weightTaintPreferences = 3 // TaintToleration, PreferNoSchedule taints
)

// candidate is a feasible node and its raw plugin results, normalised across all
// candidates before they are summed.
type candidate struct {
	node        *nodeInfo
	base        int64 // plugins that need no normalisation, already weighted
	sameOwner   int   // pods of the pod's controller already on the node
	affinity    int64 // sum of the weights of the preferred terms the node matches
	intolerable int   // PreferNoSchedule taints the pod does not tolerate
	total       int64
}

// baseScore is least-allocated plus balanced-allocation over CPU and memory,
// counting the pod itself, with non-zero requests.
func baseScore(pi *podInfo, n *nodeInfo) int64 {
	cpu := n.nonzero.milliCPU + pi.nonzero.milliCPU
	mem := n.nonzero.memory + pi.nonzero.memory
	least := (leastRequested(cpu, n.allocatable.milliCPU) + leastRequested(mem, n.allocatable.memory)) / 2

	var balanced int64
	if n.allocatable.milliCPU > 0 && n.allocatable.memory > 0 {
		fc := math.Min(float64(cpu)/float64(n.allocatable.milliCPU), 1)
		fm := math.Min(float64(mem)/float64(n.allocatable.memory), 1)
		std := math.Abs(fc-fm) / 2
		balanced = int64((1 - std) * maxScore)
	}
	return least*weightLeastAllocated + balanced*weightBalanced
}

func leastRequested(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxScore / capacity
}

// prepare fills in the parts of a candidate that depend on other pods or on
// the pod's preferences.
func (c *cache) prepareLocked(pi *podInfo, cand *candidate) {
	n := cand.node
	cand.base = baseScore(pi, n)
	cand.sameOwner = 0
	if pi.owner != "" {
		cand.sameOwner = c.owners[pi.owner][n.name]
	}
	cand.affinity = 0
	for i := range pi.preferred {
		if pi.preferred[i].matches(n.node) {
			cand.affinity += int64(pi.preferred[i].weight)
		}
	}
	cand.intolerable = 0
	for i := range n.preferNoSched {
		if !toleratesAny(pi.pod.Spec.Tolerations, &n.preferNoSched[i]) {
			cand.intolerable++
		}
	}
}

// normalise turns the raw results into weighted scores and totals: fewer pods of
// the same controller, more preferred-affinity weight and fewer intolerable
// PreferNoSchedule taints score higher, each scaled to 0..maxScore against the
// best and worst candidates, as upstream's normalisers do.
func normalise(cands []candidate) {
	var maxOwner, maxIntolerable int
	var maxAffinity int64
	for i := range cands {
		maxOwner = max(maxOwner, cands[i].sameOwner)
		maxAffinity = max(maxAffinity, cands[i].affinity)
		maxIntolerable = max(maxIntolerable, cands[i].intolerable)
	}
	for i := range cands {
		c := &cands[i]
		c.total = c.base
		spread := int64(maxScore)
		if maxOwner > 0 {
			spread = int64(maxOwner-c.sameOwner) * maxScore / int64(maxOwner)
		}
		c.total += spread * weightSpread
		if maxAffinity > 0 {
			c.total += c.affinity * maxScore / maxAffinity * weightNodeAffinity
		}
		taints := int64(maxScore)
		if maxIntolerable > 0 {
			taints = int64(maxIntolerable-c.intolerable) * maxScore / int64(maxIntolerable)
		}
		c.total += taints * weightTaintPreferences
	}
}
