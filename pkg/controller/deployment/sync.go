package deployment

import (
	"context"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync brings one Deployment's ReplicaSets and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.deployments.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.writes.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if wait, ok := c.writes.pending(key); ok {
		// Its own last writes are on their way; their events queue it again.
		c.queue.AddAfter(key, wait)
		return nil
	}
	err = c.syncDeployment(ctx, cached.DeepCopy())
	switch {
	case isNamespaceTerminating(err):
		return nil // everything in it is going away
	case apierrors.IsConflict(err):
		// Someone wrote after the version this sync read: the event that
		// brings the new version queues the Deployment again.
		return nil
	}
	return err
}

func (c *Controller) syncDeployment(ctx context.Context, d *appsv1.Deployment) error {
	if reflect.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) {
		// The API refuses an empty selector; one that slipped through must
		// not take over every ReplicaSet in the namespace.
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return c.updateStatus(ctx, d)
		}
		return nil
	}
	rsList, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		return err
	}
	newRS, old, err := c.replicaSetsAndRevision(ctx, d, rsList)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		return c.syncStatus(ctx, d, withNew(old, newRS), newRS)
	}
	if err := c.recordPaused(ctx, d); err != nil {
		return err
	}
	switch {
	case d.Spec.Paused:
		return c.syncScale(ctx, d, newRS, old)
	case rollbackTo(d) != nil:
		return c.rollback(ctx, d, newRS, old)
	case resized(d, newRS, old):
		return c.syncScale(ctx, d, newRS, old)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return c.rolloutRecreate(ctx, d, newRS, old)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, newRS, old)
	}
	return fmt.Errorf("unexpected deployment strategy type: %s", d.Spec.Strategy.Type)
}

// syncScale handles a resize or a paused Deployment: scale without rolling,
// and, paused, clean up old revisions.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if err := c.scale(ctx, d, newRS, old); err != nil {
		return err
	}
	if d.Spec.Paused && rollbackTo(d) == nil {
		if err := c.cleanupHistory(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, d, withNew(old, newRS), newRS)
}

// resized reports a Deployment whose spec.replicas differs from the size an
// active ReplicaSet was last scaled for: a resize, not a rollout.
func resized(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) bool {
	for _, rs := range active(withNew(old, newRS)) {
		if desired, ok := replicasAnnotation(rs, desiredReplicasAnnotation); ok && desired != replicas(d) {
			return true
		}
	}
	return false
}

// recordPaused sets the Progressing condition to DeploymentPaused or
// DeploymentResumed when the Deployment was paused or resumed, so that the
// time spent paused does not count against its progress deadline.
func (c *Controller) recordPaused(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == timedOutReason {
		return nil // a reported failure stays until a new rollout
	}
	paused := cond != nil && cond.Reason == pausedReason
	switch {
	case d.Spec.Paused && !paused:
		setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, pausedReason, "Deployment is paused"))
	case !d.Spec.Paused && paused:
		setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, resumedReason, "Deployment is resumed"))
	default:
		return nil
	}
	return c.updateStatus(ctx, d)
}

// updateStatus writes d's status (and the annotations the controller keeps on
// it, which upstream's /status takes too) and takes back what the server
// stored, so that later writes in the same sync do not conflict with it.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) error {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("updating status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	updated.DeepCopyInto(d)
	c.wroteDeployment(d)
	return nil
}
