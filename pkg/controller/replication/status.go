package replication

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// calculateStatus counts the RC's pods and records (or clears) a failure to
// create or delete them as the ReplicaFailure condition.
func calculateStatus(rc *corev1.ReplicationController, pods []*corev1.Pod, manageErr error, now time.Time) corev1.ReplicationControllerStatus {
	st := *rc.Status.DeepCopy()
	failure := -1
	for i, c := range st.Conditions {
		if c.Type == corev1.ReplicationControllerReplicaFailure {
			failure = i
		}
	}
	switch {
	case manageErr != nil && failure < 0:
		reason := ""
		if diff := len(pods) - int(replicas(rc)); diff < 0 {
			reason = "FailedCreate"
		} else if diff > 0 {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure >= 0:
		st.Conditions = append(st.Conditions[:failure], st.Conditions[failure+1:]...)
		if len(st.Conditions) == 0 {
			st.Conditions = nil
		}
	}
	var template labels.Selector
	if rc.Spec.Template != nil {
		template = labels.SelectorFromSet(rc.Spec.Template.Labels)
	}
	st.Replicas, st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = int32(len(pods)), 0, 0, 0
	for _, p := range pods {
		if template != nil && template.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if podReady(p) {
			st.ReadyReplicas++
			if podAvailable(p, rc.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	st.ObservedGeneration = rc.Generation
	return st
}

// updateStatus writes the status through /status when it changed, retrying once
// on a fresh copy (the RC may have been scaled in between).
func (c *Controller) updateStatus(ctx context.Context, rc *corev1.ReplicationController, st corev1.ReplicationControllerStatus) (*corev1.ReplicationController, error) {
	if equality.Semantic.DeepEqual(rc.Status, st) {
		return rc, nil
	}
	api := c.client.CoreV1().ReplicationControllers(rc.Namespace)
	next := rc.DeepCopy()
	next.Status = st
	updated, err := api.UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err == nil {
		return updated, nil
	}
	fresh, gerr := api.Get(ctx, rc.Name, metav1.GetOptions{})
	if gerr != nil || fresh.UID != rc.UID {
		return nil, err
	}
	fresh.Status = st
	return api.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
}
