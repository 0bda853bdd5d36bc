package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Upstream's words for what preemption does to its victims.
const (
	reasonPreemptionByScheduler = "PreemptionByScheduler"
	eventPreempted              = "Preempted"
)

// preemption is what upstream's DefaultPreemption decided for a pod that fits
// nowhere: the node to nominate it to and the pods to evict there.
type preemption struct {
	node    string
	victims []*corev1.Pod
	// What the node is picked by, as upstream: fewest PodDisruptionBudgets
	// broken, then the least important most important victim, then the least
	// priority in all, then the fewest victims.
	pdbViolations int
	highest       int32
	sum           int64
}

// preemptLocked is the PostFilter step for a pod that fits on no node. It
// returns the plan, or nil and what to report instead (the postFilter part
// of the FailedScheduling message). It only runs when a pod does not fit, so
// a cluster where every pod fits never pays for it.
func (s *Scheduler) preemptLocked(pi *podInfo, verdicts []nodeVerdict) (*preemption, string) {
	if p := pi.pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return nil, msgPreemptNever
	}
	if s.waitingForVictimsLocked(pi) {
		return nil, msgTerminating
	}
	// Only nodes where the failure is one preemption can resolve (ports,
	// resources) and where something matters less than the pod.
	candidates := map[string]*nodeInfo{}
	for _, v := range verdicts {
		if v.resolvable && v.node.hasLowerPriority(pi.priority) {
			candidates[v.node.name] = v.node
		}
	}
	if len(candidates) == 0 {
		return nil, preemptionMessage(pi, verdicts)
	}
	lower := map[string][]*podState{}
	for _, ps := range s.cache.pods {
		if candidates[ps.node] != nil && ps.info.priority < pi.priority {
			lower[ps.node] = append(lower[ps.node], ps)
		}
	}
	var pdbs []*policyv1.PodDisruptionBudget
	if s.pdbs != nil {
		pdbs, _ = s.pdbs.List(labels.Everything())
	}
	var best *preemption
	for _, n := range s.cache.list { // in name order, so that ties go the same way every time
		if candidates[n.name] == nil {
			continue
		}
		if p := s.selectVictimsLocked(pi, n, lower[n.name], pdbs); p != nil && (best == nil || betterPreemption(p, best)) {
			best = p
		}
	}
	if best == nil {
		return nil, preemptionMessage(pi, verdicts)
	}
	return best, ""
}

// waitingForVictimsLocked is upstream's eligibility rule: a pod already
// nominated to a node where pods it preempted are still terminating waits
// for them rather than preempting more, unless that node no longer suits it.
func (s *Scheduler) waitingForVictimsLocked(pi *podInfo) bool {
	name := pi.pod.Status.NominatedNodeName
	n := s.cache.nodes[name]
	if name == "" || n == nil || n.node == nil {
		return false
	}
	if _, resolvable := fits(pi, n, nil); !resolvable {
		return false
	}
	for _, ps := range s.cache.pods {
		if ps.node == name && ps.info.preempted && ps.info.priority < pi.priority {
			return true
		}
	}
	return false
}

// selectVictimsLocked is upstream's SelectVictimsOnNode: with every pod of
// lower priority gone, the pod must fit; then those pods are put back one by
// one, most important first (those whose eviction would break a
// PodDisruptionBudget before the others), and the ones that no longer leave
// room are the victims. The node is left as it was.
func (s *Scheduler) selectVictimsLocked(pi *podInfo, n *nodeInfo, lower []*podState, pdbs []*policyv1.PodDisruptionBudget) *preemption {
	type potential struct {
		state *podState
		pod   *corev1.Pod
	}
	var all []potential
	for _, ps := range lower {
		pod, err := s.pods.Pods(ps.namespace).Get(ps.name)
		if err != nil {
			continue // gone already: its removal is on its way to the cache
		}
		all = append(all, potential{ps, pod})
	}
	for _, v := range all {
		n.addPod(v.state.info, -1)
	}
	var victims []potential
	defer func() {
		for _, v := range victims {
			n.addPod(v.state.info, +1)
		}
	}()
	if ok, _ := fitsWithNominated(pi, n, nil); !ok {
		victims = all
		return nil
	}
	slices.SortStableFunc(all, func(a, b potential) int {
		if c := cmp.Compare(b.state.info.priority, a.state.info.priority); c != 0 {
			return c
		}
		return startTime(a.pod).Compare(startTime(b.pod))
	})
	violating := violatesBudgets(all, pdbs, func(v potential) *corev1.Pod { return v.pod })
	p := &preemption{node: n.name}
	reprieve := func(v potential) bool {
		n.addPod(v.state.info, +1)
		if ok, _ := fitsWithNominated(pi, n, nil); ok {
			return true
		}
		n.addPod(v.state.info, -1)
		victims = append(victims, v)
		return false
	}
	for _, breaks := range []bool{true, false} {
		for i, v := range all {
			if violating[i] != breaks {
				continue
			}
			if !reprieve(v) && breaks {
				p.pdbViolations++
			}
		}
	}
	if len(victims) == 0 {
		return nil // room without evicting anyone: a change the cycle has not seen yet
	}
	p.highest = victims[0].state.info.priority
	for _, v := range victims {
		p.victims = append(p.victims, v.pod)
		p.highest = max(p.highest, v.state.info.priority)
		// Shifted as upstream's, so that negative priorities do not make a
		// sum smaller than fewer victims would.
		p.sum += int64(v.state.info.priority) + 1<<31
	}
	return p
}

// violatesBudgets reports, for each pod in order, whether evicting it (after
// the pods before it) would take a PodDisruptionBudget below what it allows.
func violatesBudgets[T any](pods []T, pdbs []*policyv1.PodDisruptionBudget, podOf func(T) *corev1.Pod) []bool {
	out := make([]bool, len(pods))
	if len(pdbs) == 0 {
		return out
	}
	allowed := make([]int32, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
	}
	for i, v := range pods {
		pod := podOf(v)
		if len(pod.Labels) == 0 {
			continue
		}
		for j, pdb := range pdbs {
			if pdb.Namespace != pod.Namespace {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			// One the budget already counts as disrupted takes nothing more.
			if _, counted := pdb.Status.DisruptedPods[pod.Name]; counted {
				continue
			}
			allowed[j]--
			if allowed[j] < 0 {
				out[i] = true
			}
		}
	}
	return out
}

func betterPreemption(a, b *preemption) bool {
	switch {
	case a.pdbViolations != b.pdbViolations:
		return a.pdbViolations < b.pdbViolations
	case a.highest != b.highest:
		return a.highest < b.highest
	case a.sum != b.sum:
		return a.sum < b.sum
	}
	return len(a.victims) < len(b.victims)
}

// startTime is when a pod started, for telling equally important victims
// apart: the one running longer is kept.
func startTime(pod *corev1.Pod) time.Time {
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return pod.CreationTimestamp.Time
}

// nominateLocked records the plan in the cache before it is carried out, so
// that the next cycles keep the room for the preemptor, and returns the pods
// of lower priority that were nominated to the node, whose nominations it
// drops.
func (s *Scheduler) nominateLocked(pi *podInfo, p *preemption) []nominee {
	n := s.cache.nodeLocked(p.node)
	var lower []nominee
	for _, nom := range n.nominated {
		if nom.uid != pi.pod.UID && nom.info.priority < pi.priority {
			lower = append(lower, nom)
		}
	}
	for _, nom := range lower {
		s.cache.unnominateLocked(nom.uid)
	}
	s.cache.nominateLocked(pi, p.node)
	return lower
}

// preemptedByScheduler reports whether a pod carries the condition a
// scheduler adds to the pods it preempts.
func preemptedByScheduler(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == reasonPreemptionByScheduler {
			return true
		}
	}
	return false
}

// preempt carries out a plan, as upstream's DefaultPreemption does: each
// victim gets the DisruptionTarget condition, so that its controller and
// node know why it goes, then is deleted gracefully and told why in an
// event; pods of lower priority nominated to the node lose that nomination,
// as they may no longer fit; the preemptor is nominated to the node.
func (s *Scheduler) preempt(ctx context.Context, preemptor *corev1.Pod, p *preemption, lowerNominees []nominee, msg string) {
	for _, victim := range p.victims {
		if err := s.addDisruptionTarget(ctx, victim, preemptor); err != nil {
			if !apierrors.IsNotFound(err) && ctx.Err() == nil {
				s.log.Debug("preemption: marking victim", "pod", victim.Namespace+"/"+victim.Name, "err", err)
			}
			continue
		}
		err := s.client.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &victim.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			s.log.Debug("preemption: deleting victim", "pod", victim.Namespace+"/"+victim.Name, "err", err)
			continue
		}
		s.recorder.Eventf(victim, corev1.EventTypeNormal, eventPreempted, "Preempted by pod %v on node %v", preemptor.UID, p.node)
	}
	for _, nom := range lowerNominees {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: nom.namespace, Name: nom.name, UID: nom.uid}}
		if pod = s.pendingPod(pod); pod != nil && pod.Status.NominatedNodeName == p.node {
			if err := s.patchStatus(ctx, pod, map[string]any{"nominatedNodeName": nil}); err != nil && ctx.Err() == nil {
				s.log.Debug("preemption: clearing a nomination", "pod", nom.namespace+"/"+nom.name, "err", err)
			}
		}
	}
	s.setUnschedulable(ctx, preemptor, corev1.PodReasonUnschedulable, msg, p.node)
}

func (s *Scheduler) addDisruptionTarget(ctx context.Context, victim, preemptor *corev1.Pod) error {
	cond := corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reasonPreemptionByScheduler,
		Message:            fmt.Sprintf("%s: preempting to accommodate a higher priority pod", preemptor.Spec.SchedulerName),
		LastTransitionTime: metav1.NewTime(time.Now()),
	}
	return s.patchStatus(ctx, victim, map[string]any{"conditions": []corev1.PodCondition{cond}})
}

// patchStatus strategic-merges status fields into a pod through pods/status.
func (s *Scheduler) patchStatus(ctx context.Context, pod *corev1.Pod, status map[string]any) error {
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}
