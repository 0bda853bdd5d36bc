package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// post writes the pod's status when it changed.
func (w *podWorker) post(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) {
	if !statusChanged(&pod.Status, &st) {
		return
	}
	pods := w.a.client.CoreV1().Pods(pod.Namespace)
	for attempt := 0; attempt < 3; attempt++ {
		p := pod.DeepCopy()
		p.Status = st
		updated, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err == nil {
			w.setPod(updated)
			return
		}
		if apierrors.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		if !apierrors.IsConflict(err) {
			w.log.Error("updating pod status", "err", err)
			w.syncAfter(time.Second)
			return
		}
		fresh, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || fresh.UID != pod.UID {
			return
		}
		w.setPod(fresh)
		// Keep the conditions others own from the fresh copy.
		var kept []corev1.PodCondition
		for _, c := range st.Conditions {
			if ownedCondition(c.Type) {
				kept = append(kept, c)
			}
		}
		for _, c := range fresh.Status.Conditions {
			if !ownedCondition(c.Type) {
				kept = append(kept, c)
			}
		}
		st.Conditions = kept
		if !statusChanged(&fresh.Status, &st) {
			return
		}
		pod = fresh
	}
	w.syncAfter(time.Second)
}
