package replication

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// deletionCostAnnotation lets users steer scale-down (lower cost goes first).
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks the n pods a set loses on scale-down, the least valuable
// first, in upstream's order:
//  1. not yet scheduled before scheduled;
//  2. Pending before Unknown before Running;
//  3. not ready before ready;
//  4. lower pod-deletion-cost before higher;
//  5. pods sharing a node with more related pods before the rest (related: the
//     active pods of every set under the same controller, or, when there are
//     none, the set's own pods);
//  6. among ready pods, the more recently ready first (on a log2 time scale);
//  7. more container restarts before fewer;
//  8. newer before older (on a log2 time scale).
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	r := ranked{pods: append([]*corev1.Pod(nil), pods...), now: now}
	if related == nil {
		related = pods
	}
	perNode := map[string]int{}
	for _, p := range related {
		perNode[p.Spec.NodeName]++
	}
	r.colocated = make([]int, len(r.pods))
	for i, p := range r.pods {
		r.colocated[i] = perNode[p.Spec.NodeName]
	}
	sort.Sort(r)
	return r.pods[:n]
}

type ranked struct {
	pods      []*corev1.Pod
	colocated []int
	now       time.Time
}

func (r ranked) Len() int { return len(r.pods) }

func (r ranked) Swap(i, j int) {
	r.pods[i], r.pods[j] = r.pods[j], r.pods[i]
	r.colocated[i], r.colocated[j] = r.colocated[j], r.colocated[i]
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// Less reports whether pod i should be deleted before pod j.
func (r ranked) Less(i, j int) bool {
	a, b := r.pods[i], r.pods[j]
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseOrder[a.Status.Phase], phaseOrder[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	readyA, readyB := podReady(a), podReady(b)
	if readyA != readyB {
		return !readyA
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	if r.colocated[i] != r.colocated[j] {
		return r.colocated[i] > r.colocated[j]
	}
	if readyA && readyB {
		ta, tb := readySince(a), readySince(b)
		if !ta.Equal(tb) {
			return r.newerFirst(ta, tb, a, b)
		}
	}
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return r.newerFirst(ta, tb, a, b)
	}
	return false
}

// newerFirst orders by age in powers of two, so pods of about the same age
// are treated alike (and picked by UID) rather than by a few seconds' difference.
func (r ranked) newerFirst(ta, tb time.Time, a, b *corev1.Pod) bool {
	if ta.IsZero() || tb.IsZero() {
		return ta.IsZero()
	}
	if r.now.IsZero() {
		return ta.After(tb)
	}
	if ba, bb := ageBucket(r.now.Sub(ta)), ageBucket(r.now.Sub(tb)); ba != bb {
		return ba < bb
	}
	return a.UID < b.UID
}

func ageBucket(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[deletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

func maxRestarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n = max(n, s.RestartCount)
	}
	return n
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

func readySince(p *corev1.Pod) time.Time {
	if c := readyCondition(p); c != nil && c.Status == corev1.ConditionTrue {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

// podAvailable: ready for at least minReadySeconds.
func podAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := readyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}
