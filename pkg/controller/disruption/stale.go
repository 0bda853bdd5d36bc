package disruption

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// StaleDisruptionTimeout is how long a pod may carry a True DisruptionTarget
// condition without being deleted: an eviction or a deletion that marked it
// and then did not happen. After it the condition is set False, as upstream's
// controller does.
const StaleDisruptionTimeout = 2 * time.Minute

// staleDisruption reports whether a pod carries a DisruptionTarget condition
// that will be stale if it is still there, and how long until then.
func (c *Controller) staleDisruption(pod *corev1.Pod) (bool, time.Duration) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false, 0
	}
	cond := disruptionTarget(&pod.Status)
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason == corev1.PodReasonTerminationByKubelet {
		return false, 0
	}
	return true, max(StaleDisruptionTimeout-c.clock.Since(cond.LastTransitionTime.Time), 0)
}

func disruptionTarget(st *corev1.PodStatus) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.DisruptionTarget {
			return &st.Conditions[i]
		}
	}
	return nil
}

func (c *Controller) checkStale(pod *corev1.Pod) {
	if stale, after := c.staleDisruption(pod); stale {
		c.stale.AddAfter(cache.MetaObjectToName(pod).String(), after)
	}
}

// syncStalePod sets a pod's DisruptionTarget condition False once it is stale.
func (c *Controller) syncStalePod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	stale, after := c.staleDisruption(pod)
	if !stale {
		return nil
	}
	if after > 0 {
		c.stale.AddAfter(key, after)
		return nil
	}
	next := pod.DeepCopy()
	*disruptionTarget(&next.Status) = corev1.PodCondition{
		Type:               corev1.DisruptionTarget,
		Status:             corev1.ConditionFalse,
		LastTransitionTime: metav1.NewTime(c.clock.Now().Truncate(time.Second)),
	}
	_, err = c.client.CoreV1().Pods(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err == nil {
		c.log.Debug("reset a stale DisruptionTarget condition", "pod", key)
	}
	return err
}
