package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// rolloutRecreate takes one step of a Recreate rollout: scale every old
// ReplicaSet to 0; once none of their pods runs, create (or scale up) the new
// one to the whole Deployment. The new ReplicaSet is not even created before
// then, so that old and new pods never run together.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	all := withNew(old, newRS)
	scaled := false
	for _, rs := range active(old) {
		done, _, err := c.scaleReplicaSet(ctx, rs, 0, d, false)
		if err != nil {
			return err
		}
		scaled = scaled || done
	}
	if scaled || c.oldPodsRunning(old) {
		return c.syncRolloutStatus(ctx, d, all, newRS)
	}
	newRS, err := c.ensureNewReplicaSet(ctx, d, newRS, old)
	if err != nil {
		return err
	}
	all = withNew(old, newRS)
	if _, _, err := c.scaleReplicaSet(ctx, newRS, replicas(d), d, false); err != nil {
		return err
	}
	if complete(d, &d.Status) {
		if err := c.cleanupHistory(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, newRS)
}

// oldPodsRunning reports whether an old ReplicaSet still counts pods, or still
// has a pod (terminating ones included) that has not finished: the status
// stops counting a pod once it is being deleted, its containers run on until
// it is gone.
func (c *Controller) oldPodsRunning(old []*appsv1.ReplicaSet) bool {
	if statusTotal(old) > 0 {
		return true
	}
	for _, rs := range old {
		for _, pod := range c.podsOf(rs) {
			if pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}
