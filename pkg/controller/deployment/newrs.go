package deployment

import (
	"context"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// replicaSetsAndRevision splits a Deployment's ReplicaSets into the new one
// (nil when none runs its template yet) and the old ones. The new one gets
// the Deployment's annotations, a revision above every old one and the
// Deployment's minReadySeconds; the Deployment then gets its revision (and,
// the first time a progress deadline applies, a FoundNewReplicaSet
// condition).
func (c *Controller) replicaSetsAndRevision(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := splitReplicaSets(d, rsList)
	if newRS == nil {
		return nil, old, nil
	}
	rs := newRS.DeepCopy()
	changed := setNewReplicaSetAnnotations(d, rs, maxRevision(old)+1, true)
	if changed || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("updating replica set %s/%s: %w", rs.Namespace, rs.Name, err)
		}
		c.wroteReplicaSet(d, updated)
		// The Deployment takes the revision when the update comes back
		// through the informer.
		return updated, old, nil
	}
	dirty := setDeploymentRevision(d, rs.Annotations[revisionAnnotation])
	if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
		setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, foundNewRSReason,
			fmt.Sprintf("Found new replica set %q", rs.Name)))
		dirty = true
	}
	if dirty {
		if err := c.updateStatus(ctx, d); err != nil {
			return nil, nil, err
		}
	}
	return rs, old, nil
}

// ensureNewReplicaSet returns newRS, creating it first if there is none.
func (c *Controller) ensureNewReplicaSet(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	if newRS != nil {
		return newRS, nil
	}
	return c.createNewReplicaSet(ctx, d, old)
}

// createNewReplicaSet creates the ReplicaSet for the Deployment's template:
// named DEPLOYMENT-HASH, the hash added to its labels, selector and template,
// controlled by the Deployment, sized as the strategy allows, with the next
// revision. A ReplicaSet of that name that is not this one (a hash collision)
// raises status.collisionCount, which changes the next hash.
func (c *Controller) createNewReplicaSet(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	hash := podTemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	template := *d.Spec.Template.DeepCopy()
	template.Labels = withLabel(d.Spec.Template.Labels, hashLabel, hash)
	selector := d.Spec.Selector.DeepCopy()
	if selector == nil {
		selector = &metav1.LabelSelector{}
	}
	selector.MatchLabels = withLabel(selector.MatchLabels, hashLabel, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            replicaSetName(d.Name, hash),
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, deploymentKind)},
			Labels:          maps.Clone(template.Labels),
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To[int32](0),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	n, err := newReplicaSetSize(d, withNew(old, rs), rs)
	if err != nil {
		return nil, err
	}
	rs.Spec.Replicas = ptr.To(n)
	rev := maxRevision(old) + 1
	setNewReplicaSetAnnotations(d, rs, rev, false)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	existed := false
	switch {
	case apierrors.IsAlreadyExists(err):
		// A slow cache (it is ours) or a hash collision (it is not).
		found, getErr := c.rsLister.ReplicaSets(rs.Namespace).Get(rs.Name)
		if getErr != nil {
			return nil, getErr
		}
		if ref := metav1.GetControllerOfNoCopy(found); ref != nil && ref.UID == d.UID && sameTemplate(&d.Spec.Template, &found.Spec.Template) {
			created, err, existed = found, nil, true
			break
		}
		d.Status.CollisionCount = ptr.To(ptr.Deref(d.Status.CollisionCount, 0) + 1)
		if uerr := c.updateStatus(ctx, d); uerr == nil {
			c.log.Info("pod template hash collision; raised collisionCount", "deployment", d.Namespace+"/"+d.Name,
				"replicaSet", rs.Name, "collisionCount", *d.Status.CollisionCount)
		}
		return nil, err // try again with the new count
	case isNamespaceTerminating(err):
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, failedRSCreateReason, msg))
			// The create error is the one to report.
			_ = c.updateStatus(ctx, d)
		}
		c.recorder.Eventf(d, corev1.EventTypeWarning, failedRSCreateReason, "%s", msg)
		return nil, err
	}
	if !existed {
		c.wroteReplicaSet(d, created)
	}
	if !existed && n > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, n)
	}
	dirty := setDeploymentRevision(d, fmt.Sprint(rev))
	if !existed && hasProgressDeadline(d) {
		setCondition(&d.Status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, newRSReason,
			fmt.Sprintf("Created new replica set %q", created.Name)))
		dirty = true
	}
	if dirty {
		if err := c.updateStatus(ctx, d); err != nil {
			return created, err
		}
	}
	return created, nil
}

// withLabel is a copy of m with key set to value.
func withLabel(m map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(m)+1)
	maps.Copy(out, m)
	out[key] = value
	return out
}
