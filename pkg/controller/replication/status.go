package replication

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// calculateStatus counts the set's pods (and, where its kind has the field,
// those being deleted) and records (or clears) a failure to create or delete
// them as the ReplicaFailure condition.
func calculateStatus(s set, pods []*corev1.Pod, terminating *int32, manageErr error, now time.Time) status {
	st := status{
		replicas:           int32(len(pods)),
		terminating:        terminating,
		observedGeneration: s.meta().Generation,
		failed:             manageErr != nil,
	}
	if manageErr != nil {
		if diff := len(pods) - int(s.replicas()); diff < 0 {
			st.failReason = "FailedCreate"
		} else if diff > 0 {
			st.failReason = "FailedDelete"
		}
		st.failMessage = manageErr.Error()
	}
	var template labels.Selector
	if t := s.template(); t != nil {
		template = labels.SelectorFromSet(t.Labels)
	}
	minReady := s.minReadySeconds()
	for _, p := range pods {
		if template != nil && template.Matches(labels.Set(p.Labels)) {
			st.fullyLabeled++
		}
		if podReady(p) {
			st.ready++
			if podAvailable(p, minReady, now) {
				st.available++
			}
		}
	}
	return st
}

// updateStatus writes the status through /status when it changed, retrying once
// on a fresh copy (the set may have been scaled in between). Only the status
// changes: the rest of the object, annotations included, is as the API has it.
func (c *Controller) updateStatus(ctx context.Context, s set, st status, now time.Time) (set, error) {
	if s.status().same(st) {
		return s, nil
	}
	updated, err := c.kind.updateStatus(ctx, s.withStatus(st, now))
	if err == nil {
		return updated, nil
	}
	m := s.meta()
	fresh, gerr := c.kind.fetch(ctx, m.Namespace, m.Name)
	if gerr != nil || fresh.meta().UID != m.UID {
		return nil, err
	}
	return c.kind.updateStatus(ctx, fresh.withStatus(st, now))
}
