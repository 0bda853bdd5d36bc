package daemonset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// counts are the numbers of a DaemonSet's status.
type counts struct {
	desired, current, misscheduled, ready, updated, available, unavailable int32
}

// calculateStatus counts, over every node, where ds's pods should be and
// where they are: a node counts by the oldest of its pods.
func (c *Controller) calculateStatus(ds *appsv1.DaemonSet, pods []*corev1.Pod, nodes []*corev1.Node, p *placement, hash string) counts {
	byNode := podsByNode(pods, false)
	generation := templateGeneration(ds)
	now := c.clock.Now()
	var n counts
	for _, node := range nodes {
		shouldRun, _ := p.check(node)
		pods := byNode[node.Name]
		if !shouldRun {
			if len(pods) > 0 {
				n.misscheduled++
			}
			continue
		}
		n.desired++
		if len(pods) == 0 {
			continue
		}
		n.current++
		sortOldestFirst(pods)
		pod := pods[0]
		if podReady(pod) {
			n.ready++
			if podAvailable(pod, ds.Spec.MinReadySeconds, now) {
				n.available++
			}
		}
		if podUpdated(pod, hash, generation) {
			n.updated++
		}
	}
	n.unavailable = n.desired - n.available
	return n
}

// updateStatus writes ds's status through /status when it changed; with
// observed, it also records the generation as observed.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod,
	nodes []*corev1.Node, p *placement, hash string, observed bool) error {
	n := c.calculateStatus(ds, pods, nodes, p, hash)
	if ds.Spec.MinReadySeconds > 0 && n.ready != n.available {
		// Look again once the ready ones have been ready long enough.
		c.queue.AddAfter(keyOf(ds), time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	st := ds.Status
	if n.same(&st) && (!observed || st.ObservedGeneration >= ds.Generation) {
		return nil
	}
	next := ds.DeepCopy()
	for attempt := 0; ; attempt++ {
		n.apply(&next.Status)
		if observed {
			next.Status.ObservedGeneration = ds.Generation
		}
		_, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if attempt > 0 {
			return fmt.Errorf("updating the status of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		fresh, gerr := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("updating the status of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		if fresh.UID != ds.UID {
			return nil // replaced: its own sync will count
		}
		next = fresh
	}
}

func (n *counts) same(st *appsv1.DaemonSetStatus) bool {
	return st.DesiredNumberScheduled == n.desired && st.CurrentNumberScheduled == n.current &&
		st.NumberMisscheduled == n.misscheduled && st.NumberReady == n.ready &&
		st.UpdatedNumberScheduled == n.updated && st.NumberAvailable == n.available &&
		st.NumberUnavailable == n.unavailable
}

func (n *counts) apply(st *appsv1.DaemonSetStatus) {
	st.DesiredNumberScheduled = n.desired
	st.CurrentNumberScheduled = n.current
	st.NumberMisscheduled = n.misscheduled
	st.NumberReady = n.ready
	st.UpdatedNumberScheduled = n.updated
	st.NumberAvailable = n.available
	st.NumberUnavailable = n.unavailable
}
