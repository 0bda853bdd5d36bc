package statefulset

import (
	"context"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// countPods sets the status's pod counts from pods: created (has a phase),
// ready, available, and at the current and update revisions (not counting
// terminating ones).
func countPods(status *appsv1.StatefulSetStatus, minReadySeconds int32, current, update string, now time.Time, pods []*corev1.Pod) {
	status.Replicas, status.ReadyReplicas, status.AvailableReplicas = 0, 0, 0
	status.CurrentReplicas, status.UpdatedReplicas = 0, 0
	for _, p := range pods {
		if isCreated(p) {
			status.Replicas++
		}
		if isRunningAndReady(p) {
			status.ReadyReplicas++
			if isAvailable(p, minReadySeconds, now) {
				status.AvailableReplicas++
			}
		}
		if isCreated(p) && !isTerminating(p) {
			if rev := revisionOf(p); rev == current {
				status.CurrentReplicas++
			}
			if revisionOf(p) == update {
				status.UpdatedReplicas++
			}
		}
	}
}

// completeUpdate makes the update revision current once every wanted pod runs
// it and is ready.
func completeUpdate(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) {
	n := int32(replicasOf(set))
	if status.UpdatedReplicas == n && status.ReadyReplicas == n && status.Replicas == n {
		status.CurrentReplicas = status.UpdatedReplicas
		status.CurrentRevision = status.UpdateRevision
	}
}

func statusChanged(set *appsv1.StatefulSet, s *appsv1.StatefulSetStatus) bool {
	old := set.Status
	return s.ObservedGeneration > old.ObservedGeneration ||
		s.Replicas != old.Replicas || s.ReadyReplicas != old.ReadyReplicas ||
		s.CurrentReplicas != old.CurrentReplicas || s.UpdatedReplicas != old.UpdatedReplicas ||
		s.AvailableReplicas != old.AvailableReplicas ||
		s.CurrentRevision != old.CurrentRevision || s.UpdateRevision != old.UpdateRevision ||
		!reflect.DeepEqual(s.CollisionCount, old.CollisionCount) ||
		!reflect.DeepEqual(s.Conditions, old.Conditions)
}

// writeStatus writes status through /status when it differs from the set's,
// re-reading the set on conflicts.
func (c *Controller) writeStatus(ctx context.Context, set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) error {
	completeUpdate(set, status)
	if !statusChanged(set, status) {
		return nil
	}
	cur := set.DeepCopy()
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur.Status = *status
		_, err := c.client.AppsV1().StatefulSets(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		fresh, getErr := c.client.AppsV1().StatefulSets(cur.Namespace).Get(ctx, cur.Name, metav1.GetOptions{})
		if getErr != nil {
			return getErr
		}
		cur = fresh
		return err
	})
}
