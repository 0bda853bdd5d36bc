package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	toolscache "k8s.io/client-go/tools/cache"
)

// The pod handlers split the shared pod informer in two, as upstream's two
// filtered informers do: bound pods feed the cache, pending pods of this
// scheduler feed the queue.

func (s *Scheduler) responsibleFor(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == s.opts.SchedulerName
}

// schedulable reports whether a pending pod should be in the queue at all.
func (s *Scheduler) schedulable(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && s.responsibleFor(pod) && !isTerminal(pod) &&
		pod.DeletionTimestamp == nil && len(pod.Spec.SchedulingGates) == 0
}

func (s *Scheduler) onPodAdd(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	switch {
	case pod.Spec.NodeName != "":
		if !isTerminal(pod) {
			s.cache.setPod(newPodInfo(pod))
		}
	case s.schedulable(pod):
		pi := newPodInfo(pod)
		s.keepNomination(pi)
		s.queue.add(pi)
	}
}

// keepNomination takes a pending pod's status.nominatedNodeName into the
// cache (a scheduler that restarted learns its nominations back). The cache
// may know a nomination the API does not show yet, so an empty one is not
// taken as a withdrawal.
func (s *Scheduler) keepNomination(pi *podInfo) {
	if node := pi.pod.Status.NominatedNodeName; node != "" {
		s.cache.nominate(pi, node)
	}
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if pod.Spec.NodeName != "" {
		if old.Spec.NodeName == "" {
			// Bound: by us (the assumed pod is now confirmed) or by someone else.
			s.queue.remove(pod.UID)
		}
		if isTerminal(pod) {
			if s.cache.removePod(pod.UID) {
				s.queue.moveAll() // its node has room again
			}
			return
		}
		// A pod preemption evicted is marked when its deletion starts.
		if old.Spec.NodeName == pod.Spec.NodeName && !s.cache.isAssumed(pod.UID) &&
			(old.DeletionTimestamp == nil) == (pod.DeletionTimestamp == nil) &&
			equality.Semantic.DeepEqual(old.Spec.Containers, pod.Spec.Containers) &&
			equality.Semantic.DeepEqual(old.OwnerReferences, pod.OwnerReferences) {
			return // a status update: nothing the scheduler counts changed
		}
		s.cache.setPod(newPodInfo(pod))
		return
	}
	if !s.schedulable(pod) {
		s.queue.remove(pod.UID)
		s.cache.unnominate(pod.UID)
		return
	}
	if old.Status.NominatedNodeName != pod.Status.NominatedNodeName {
		s.keepNomination(newPodInfo(pod))
	}
	if !specChanged(old, pod) {
		// A status update, such as this scheduler's own PodScheduled condition:
		// keep the fresher object, but do not retry for it.
		s.queue.refresh(newPodInfo(pod))
		return
	}
	pi := newPodInfo(pod)
	switch {
	case s.queue.update(pi):
	case len(old.Spec.SchedulingGates) > 0:
		s.queue.add(pi) // its last scheduling gate was removed
	default:
		s.queue.changedInFlight(pod.UID)
	}
}

// specChanged reports whether a pod changed in a way that could change where it
// fits.
func specChanged(old, pod *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
		!equality.Semantic.DeepEqual(old.Labels, pod.Labels) ||
		!equality.Semantic.DeepEqual(old.OwnerReferences, pod.OwnerReferences)
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.queue.remove(pod.UID)
	s.cache.unnominate(pod.UID)
	if s.cache.removePod(pod.UID) {
		s.queue.moveAll()
	}
}

func (s *Scheduler) onNodeAdd(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.cache.setNode(node)
	s.queue.moveAll()
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	node, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	if !nodeSchedulingChanged(old, node) {
		return // a heartbeat
	}
	s.cache.setNode(node)
	s.queue.moveAll()
}

// nodeSchedulingChanged reports whether a node update can change which pods fit
// it or how it scores.
func nodeSchedulingChanged(old, node *corev1.Node) bool {
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		readinessTaint(old) != readinessTaint(node) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable)
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if node, ok := obj.(*corev1.Node); ok {
		s.cache.removeNode(node.Name)
	}
}
