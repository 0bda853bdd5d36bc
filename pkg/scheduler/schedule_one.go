package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event reasons, as upstream.
const (
	eventScheduled        = "Scheduled"
	eventFailedScheduling = "FailedScheduling"
)

// scheduleOne takes the next pending pod, picks its node and hands the binding
// to the binders. It returns false once the queue is closed.
func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	qp, cycle := s.queue.pop()
	if qp == nil {
		return false
	}
	pi := s.stillPending(qp.info)
	if pi == nil {
		return true // deleted or bound since it was queued
	}
	qp.info = pi

	s.cache.mu.Lock()
	node, verdicts := s.pickNodeLocked(pi)
	var msg string
	var plan *preemption
	var lowerNominees []nominee
	switch {
	case node != "":
		s.cache.assumeLocked(pi, node)
	case len(verdicts) == 0:
		msg = msgNoNodes
	default:
		var postFilter string
		if plan, postFilter = s.preemptLocked(pi, verdicts); plan != nil {
			lowerNominees = s.nominateLocked(pi, plan)
		}
		msg = fitErrorMessage(verdicts, postFilter)
	}
	s.cache.mu.Unlock()

	if node == "" {
		s.log.Debug("pod unschedulable", "pod", pi.key(), "message", msg)
		s.queue.failed(qp, cycle, true, func() *podInfo { return s.stillPending(pi) })
		s.recorder.Event(pi.pod, corev1.EventTypeWarning, eventFailedScheduling, msg)
		if plan != nil {
			s.submit(ctx, func(ctx context.Context) { s.preempt(ctx, pi.pod, plan, lowerNominees, msg) })
		} else {
			s.submit(ctx, func(ctx context.Context) { s.setUnschedulable(ctx, pi.pod, corev1.PodReasonUnschedulable, msg, "") })
		}
		return true
	}
	s.submit(ctx, func(ctx context.Context) { s.bind(ctx, qp, cycle, node) })
	return true
}

// stillPending returns the informer's current version of a queued pod if it
// still waits for this scheduler, or nil.
func (s *Scheduler) stillPending(pi *podInfo) *podInfo {
	pod := s.pendingPod(pi.pod)
	switch pod {
	case nil:
		return nil
	case pi.pod:
		return pi
	}
	return newPodInfo(pod)
}

// pendingPod is the informer's current version of pod, or nil if it is gone,
// bound, or otherwise no longer this scheduler's to place.
func (s *Scheduler) pendingPod(pod *corev1.Pod) *corev1.Pod {
	cur, err := s.pods.Pods(pod.Namespace).Get(pod.Name)
	if err != nil || cur.UID != pod.UID || !s.schedulable(cur) {
		return nil
	}
	return cur
}

// pickNodeLocked filters every node, scores the ones that fit and returns the
// best (ties broken at random), or "" and why each node was rejected.
func (s *Scheduler) pickNodeLocked(pi *podInfo) (string, []nodeVerdict) {
	nodes := s.cache.list
	if len(nodes) == 0 {
		return "", nil
	}
	cands := s.cands[:0]
	for _, n := range nodes {
		if ok, _ := fitsWithNominated(pi, n, nil); ok {
			cands = append(cands, candidate{node: n})
		}
	}
	s.cands = cands
	if len(cands) == 0 {
		verdicts := make([]nodeVerdict, len(nodes))
		for i, n := range nodes {
			v := &verdicts[i]
			v.node = n
			_, v.resolvable = fitsWithNominated(pi, n, &v.reasons)
		}
		return "", verdicts
	}
	if len(cands) == 1 {
		return cands[0].node.name, nil
	}
	for i := range cands {
		s.cache.prepareLocked(pi, &cands[i])
	}
	normalise(cands)
	best, ties := 0, 1
	for i := 1; i < len(cands); i++ {
		switch {
		case cands[i].total > cands[best].total:
			best, ties = i, 1
		case cands[i].total == cands[best].total:
			ties++
			if rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return cands[best].node.name, nil
}

// bind writes the binding. On failure the pod is forgotten, which frees its
// place for the pods waiting, and retried after back-off.
func (s *Scheduler) bind(ctx context.Context, qp *queuedPod, cycle int64, node string) {
	pod := qp.info.pod
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err == nil {
		s.recorder.Eventf(pod, corev1.EventTypeNormal, eventScheduled, "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
		return
	}
	if ctx.Err() != nil {
		return
	}
	s.log.Debug("binding failed", "pod", qp.info.key(), "node", node, "err", err)
	s.cache.forget(pod.UID, node)
	s.queue.moveAll()
	msg := fmt.Sprintf(bindPluginFailure, err)
	s.queue.failed(qp, cycle, false, func() *podInfo { return s.stillPending(qp.info) })
	if apierrors.IsNotFound(err) || s.stillPending(qp.info) == nil {
		return // deleted or bound meanwhile: nothing to report on
	}
	s.recorder.Event(pod, corev1.EventTypeWarning, eventFailedScheduling, msg)
	s.setUnschedulable(ctx, pod, corev1.PodReasonSchedulerError, msg, "")
}

// setUnschedulable records why a pod is still pending in its PodScheduled
// condition (through pods/status), and the node preemption made room on in
// status.nominatedNodeName (unless nominated is ""), unless the status
// already says so.
func (s *Scheduler) setUnschedulable(ctx context.Context, pod *corev1.Pod, reason, msg, nominated string) {
	if pod = s.pendingPod(pod); pod == nil {
		return
	}
	now := metav1.NewTime(time.Now())
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg, LastTransitionTime: now}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled {
			continue
		}
		if c.Status == cond.Status {
			if c.Reason == cond.Reason && c.Message == cond.Message && (nominated == "" || nominated == pod.Status.NominatedNodeName) {
				return
			}
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	status := map[string]any{"conditions": []corev1.PodCondition{cond}}
	if nominated != "" {
		status["nominatedNodeName"] = nominated
	}
	err := s.patchStatus(ctx, pod, status)
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		s.log.Debug("updating PodScheduled condition", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}
