package deployment

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event reasons of a rollback through the deprecated rollbackTo annotation.
const (
	rollbackRevisionNotFound  = "DeploymentRollbackRevisionNotFound"
	rollbackTemplateUnchanged = "DeploymentRollbackTemplateUnchanged"
	rollbackDone              = "DeploymentRollback"
)

// rollbackTo is the revision the deprecated.deployment.rollback.to annotation
// asks for (what the old extensions/v1beta1 rollback subresource set), or nil.
// `kubectl rollout undo` does not use it: it copies the old ReplicaSet's
// template into the Deployment itself, which the controller sees as a new
// rollout that finds its ReplicaSet already there.
func rollbackTo(d *appsv1.Deployment) *int64 {
	v := d.Annotations[appsv1.DeprecatedRollbackTo]
	if v == "" {
		return nil
	}
	rev, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &rev
}

// rollback puts the template of the asked revision (0: the one before the
// current) back into the Deployment, with that ReplicaSet's annotations, and
// clears the request; the rollout itself follows from the template change.
func (c *Controller) rollback(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	newRS, err := c.ensureNewReplicaSet(ctx, d, newRS, old)
	if err != nil {
		return err
	}
	all := withNew(old, newRS)
	to := *rollbackTo(d)
	if to == 0 {
		if to = previousRevision(all); to == 0 {
			c.recorder.Eventf(d, corev1.EventTypeWarning, rollbackRevisionNotFound, "Unable to find last revision.")
			return c.clearRollbackTo(ctx, d)
		}
	}
	for _, rs := range all {
		if v, err := revision(rs.Annotations); err != nil || v != to {
			continue
		}
		if sameTemplate(&d.Spec.Template, &rs.Spec.Template) {
			c.recorder.Eventf(d, corev1.EventTypeWarning, rollbackTemplateUnchanged,
				"The rollback revision contains the same template as current deployment %q", d.Name)
			return c.clearRollbackTo(ctx, d)
		}
		d.Spec.Template.ObjectMeta = *rs.Spec.Template.ObjectMeta.DeepCopy()
		d.Spec.Template.Spec = *rs.Spec.Template.Spec.DeepCopy()
		delete(d.Spec.Template.Labels, hashLabel)
		// The Deployment takes the annotations of the revision it returns to
		// (a change-cause, say), keeping only those the controller owns.
		kept := map[string]string{}
		for k, v := range d.Annotations {
			if notCopied[k] {
				kept[k] = v
			}
		}
		for k, v := range rs.Annotations {
			if !notCopied[k] {
				kept[k] = v
			}
		}
		d.Annotations = kept
		if err := c.clearRollbackTo(ctx, d); err != nil {
			return err
		}
		c.recorder.Eventf(d, corev1.EventTypeNormal, rollbackDone, "Rolled back deployment %q to revision %d", d.Name, to)
		return nil
	}
	c.recorder.Eventf(d, corev1.EventTypeWarning, rollbackRevisionNotFound, "Unable to find the revision to rollback to.")
	return c.clearRollbackTo(ctx, d)
}

func (c *Controller) clearRollbackTo(ctx context.Context, d *appsv1.Deployment) error {
	delete(d.Annotations, appsv1.DeprecatedRollbackTo)
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("clearing the rollback request of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	c.wroteDeployment(updated)
	return nil
}
