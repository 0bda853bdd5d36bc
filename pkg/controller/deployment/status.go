package deployment

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Condition reasons, as upstream words them: kubectl describe and rollout
// status, and the conformance tests, read them.
const (
	// Progressing
	newRSReason          = "NewReplicaSetCreated"
	foundNewRSReason     = "FoundNewReplicaSet"
	rsUpdatedReason      = "ReplicaSetUpdated"
	failedRSCreateReason = "ReplicaSetCreateError"
	newRSAvailableReason = "NewReplicaSetAvailable"
	timedOutReason       = "ProgressDeadlineExceeded"
	pausedReason         = "DeploymentPaused"
	resumedReason        = "DeploymentResumed"
	// Available
	minimumReplicasAvailable   = "MinimumReplicasAvailable"
	minimumReplicasUnavailable = "MinimumReplicasUnavailable"
)

// condition is a Deployment condition that changed now.
func (c *Controller) condition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, message string) appsv1.DeploymentCondition {
	// The API stores times to the second: keep what it will give back.
	now := metav1.NewTime(c.clock.Now()).Rfc3339Copy()
	return appsv1.DeploymentCondition{
		Type: t, Status: status, Reason: reason, Message: message,
		LastUpdateTime: now, LastTransitionTime: now,
	}
}

func getCondition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			cond := st.Conditions[i]
			return &cond
		}
	}
	return nil
}

// setCondition puts cond into st unless one of its type already says the same
// (status and reason); its transition time stays if the status does not
// change.
func setCondition(st *appsv1.DeploymentStatus, cond appsv1.DeploymentCondition) {
	cur := getCondition(*st, cond.Type)
	if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason {
		return
	}
	if cur != nil && cur.Status == cond.Status {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, cond.Type)
	st.Conditions = append(st.Conditions, cond)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var kept []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			kept = append(kept, c)
		}
	}
	st.Conditions = kept
}

// hasProgressDeadline: a Deployment reports ProgressDeadlineExceeded unless
// progressDeadlineSeconds is unset or MaxInt32 (no deadline).
func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// complete: every desired replica is updated and available, no old one is
// left, and the status is of the current generation.
func complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	n := replicas(d)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n &&
		st.ObservedGeneration >= d.Generation
}

// progressed: since the status d carries, new pods were added or became ready
// or available, or old ones went away.
func progressed(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	was := d.Status
	return st.UpdatedReplicas > was.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < was.Replicas-was.UpdatedReplicas ||
		st.ReadyReplicas > was.ReadyReplicas ||
		st.AvailableReplicas > was.AvailableReplicas
}

// timedOut: the Progressing condition in st has not moved for longer than the
// deadline (or already says so).
func (c *Controller) timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	cond := getCondition(*st, appsv1.DeploymentProgressing)
	switch {
	case cond == nil, cond.Reason == newRSAvailableReason:
		// No base to measure from, or the last rollout finished (and a
		// stale cache may not show the new one yet).
		return false
	case cond.Reason == timedOutReason:
		return true
	}
	deadline := time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	return cond.LastUpdateTime.Add(deadline).Before(c.clock.Now())
}

// calculateStatus adds up the ReplicaSets' counts and sets the Available
// condition; the other conditions are carried over.
func (c *Controller) calculateStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) appsv1.DeploymentStatus {
	available := availableTotal(all)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            statusTotal(all),
		UpdatedReplicas:     statusTotal([]*appsv1.ReplicaSet{newRS}),
		ReadyReplicas:       readyTotal(all),
		AvailableReplicas:   available,
		UnavailableReplicas: max(specTotal(all)-available, 0),
		TerminatingReplicas: terminatingTotal(all),
		CollisionCount:      d.Status.CollisionCount,
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	if available >= replicas(d)-maxUnavailable(d) {
		setCondition(&st, c.condition(appsv1.DeploymentAvailable, corev1.ConditionTrue, minimumReplicasAvailable, "Deployment has minimum availability."))
	} else {
		setCondition(&st, c.condition(appsv1.DeploymentAvailable, corev1.ConditionFalse, minimumReplicasUnavailable, "Deployment does not have minimum availability."))
	}
	return st
}

// terminatingTotal adds up the ReplicaSets' terminating pods; it is unknown
// (nil) while a ReplicaSet its controller has synced does not report them.
func terminatingTotal(rss []*appsv1.ReplicaSet) *int32 {
	var n int32
	for _, rs := range rss {
		switch {
		case rs == nil:
		case rs.Status.TerminatingReplicas != nil:
			n += *rs.Status.TerminatingReplicas
		case rs.Status.ObservedGeneration != 0:
			return nil
		}
	}
	return &n
}

// syncStatus writes the counted status, when it changed, outside a rollout.
func (c *Controller) syncStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := c.calculateStatus(d, all, newRS)
	if reflect.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

// syncRolloutStatus writes the status of a rolling-out Deployment: the counts,
// the Progressing condition (NewReplicaSetAvailable when complete,
// ReplicaSetUpdated with a fresh update time on any progress,
// ProgressDeadlineExceeded once none was made within the deadline) and the
// ReplicaSets' ReplicaFailure, the new one's first. With nothing to write it
// schedules the next progress check.
func (c *Controller) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := c.calculateStatus(d, all, newRS)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	done := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == newRSAvailableReason
	if hasProgressDeadline(d) && !done {
		subject := fmt.Sprintf("Deployment %q", d.Name)
		if newRS != nil {
			subject = fmt.Sprintf("ReplicaSet %q", newRS.Name)
		}
		switch {
		case complete(d, &st):
			setCondition(&st, c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, newRSAvailableReason, subject+" has successfully progressed."))
		case progressed(d, &st):
			cond := c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, rsUpdatedReason, subject+" is progressing.")
			// Unlike setCondition, a repeat of the same reason moves the
			// update time: that is what the deadline is measured from.
			if cur != nil {
				if cur.Status == corev1.ConditionTrue {
					cond.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&st, appsv1.DeploymentProgressing)
			}
			setCondition(&st, cond)
		case c.timedOut(d, &st):
			setCondition(&st, c.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, timedOutReason, subject+" has timed out progressing."))
		}
	}
	if failure := replicaFailure(all, newRS); failure != nil {
		setCondition(&st, *failure)
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	if reflect.DeepEqual(d.Status, st) {
		c.requeueProgressCheck(d, st)
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

// replicaFailure is the ReplicaFailure condition of the new ReplicaSet, or
// else of the first old one that has one, as a Deployment condition.
func replicaFailure(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *appsv1.DeploymentCondition {
	for _, rs := range append([]*appsv1.ReplicaSet{newRS}, all...) {
		if rs == nil {
			continue
		}
		for _, cond := range rs.Status.Conditions {
			if cond.Type == appsv1.ReplicaSetReplicaFailure {
				return &appsv1.DeploymentCondition{
					Type: appsv1.DeploymentReplicaFailure, Status: cond.Status,
					LastUpdateTime: cond.LastTransitionTime, LastTransitionTime: cond.LastTransitionTime,
					Reason: cond.Reason, Message: cond.Message,
				}
			}
		}
	}
	return nil
}

// requeueProgressCheck looks at a rollout that made no progress again when its
// deadline passes, since nothing else may happen to wake it.
func (c *Controller) requeueProgressCheck(d *appsv1.Deployment, st appsv1.DeploymentStatus) {
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cur == nil || complete(d, &st) || cur.Reason == timedOutReason {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(d)
	if err != nil {
		return
	}
	after := cur.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(c.clock.Now())
	if after < time.Second {
		c.queue.AddRateLimited(key)
		return
	}
	// A second more, so that the check does not land just short of it.
	c.queue.AddAfter(key, after+time.Second)
}
