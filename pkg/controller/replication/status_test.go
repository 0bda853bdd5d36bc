package replication

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCalculateStatus(t *testing.T) {
	n := int32(4)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Generation: 7},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &n, MinReadySeconds: 10, Selector: map[string]string{"app": "a"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a", "tier": "web"}}},
		},
	}
	labelled := func(p *corev1.Pod) { p.Labels = map[string]string{"app": "a", "tier": "web"} }
	pods := []*corev1.Pod{
		mkPod("available", labelled, phase(corev1.PodRunning), readyFor(time.Minute)),
		mkPod("just-ready", labelled, phase(corev1.PodRunning), readyFor(time.Second)),
		mkPod("pending", labelled),
	}
	st := rcStatus(rc, pods, nil, t0)
	want := corev1.ReplicationControllerStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 7}
	if st.Replicas != want.Replicas || st.FullyLabeledReplicas != want.FullyLabeledReplicas || st.ReadyReplicas != want.ReadyReplicas ||
		st.AvailableReplicas != want.AvailableReplicas || st.ObservedGeneration != want.ObservedGeneration || len(st.Conditions) != 0 {
		t.Errorf("status = %+v, want %+v", st, want)
	}

	// A failed create (too few pods) shows as ReplicaFailure/FailedCreate ...
	st = rcStatus(rc, pods, errors.New("pods \"a-x\" is forbidden: quota"), t0)
	if len(st.Conditions) != 1 || st.Conditions[0].Type != corev1.ReplicationControllerReplicaFailure ||
		st.Conditions[0].Status != corev1.ConditionTrue || st.Conditions[0].Reason != "FailedCreate" || st.Conditions[0].Message != `pods "a-x" is forbidden: quota` {
		t.Fatalf("conditions = %+v", st.Conditions)
	}
	// ... kept as it was while the failure lasts, and cleared by a clean sync.
	rc.Status = st
	again := rcStatus(rc, pods, errors.New("another"), t0.Add(time.Minute))
	if again.Conditions[0].Message != st.Conditions[0].Message || !again.Conditions[0].LastTransitionTime.Equal(&st.Conditions[0].LastTransitionTime) {
		t.Errorf("condition rewritten: %+v", again.Conditions)
	}
	if cleared := rcStatus(rc, pods, nil, t0); cleared.Conditions != nil {
		t.Errorf("conditions after a clean sync = %+v", cleared.Conditions)
	}
	// Too many pods: FailedDelete.
	n = 1
	if st := rcStatus(&corev1.ReplicationController{Spec: rc.Spec}, pods, errors.New("x"), t0); st.Conditions[0].Reason != "FailedDelete" {
		t.Errorf("reason = %q, want FailedDelete", st.Conditions[0].Reason)
	}
}

// rcStatus is the status a sync of rc writes.
func rcStatus(rc *corev1.ReplicationController, pods []*corev1.Pod, manageErr error, now time.Time) corev1.ReplicationControllerStatus {
	s := rcSet{rc}
	return s.withStatus(calculateStatus(s, pods, nil, manageErr, now), now).(rcSet).Status
}
