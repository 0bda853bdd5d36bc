package job

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/pkg/controller/claim"
)

// claimPods are the pods the Job controls once it adopted the orphans its
// selector matches (they get the tracking finalizer, and count from the next
// sync) and released the pods it no longer matches (they lose the finalizer
// uncounted), as upstream's Job controller does.
func (c *Controller) claimPods(ctx context.Context, j *batchv1.Job) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s: selector: %w", j.Namespace, j.Name, err)
	}
	deleting := j.DeletionTimestamp != nil
	var out []*corev1.Pod
	var errs []error
	for _, p := range c.podsOf(j) {
		switch {
		case selector.Matches(labels.Set(p.Labels)):
			out = append(out, p)
		case deleting: // the garbage collector takes it from here
		default:
			// Invalid: the pod was replaced under its name, nothing to release.
			if err := claim.Release(ctx, c.client, j.UID, p, batchv1.JobTrackingFinalizer); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, err)
			}
		}
	}
	if deleting || selector.Empty() {
		return out, errors.Join(errs...)
	}
	orphans, _ := c.pods.ByIndex(ownerIndex, orphanKey(j.Namespace))
	checked := false
	for _, obj := range orphans {
		p := obj.(*corev1.Pod)
		if p.DeletionTimestamp != nil || !selector.Matches(labels.Set(p.Labels)) {
			continue
		}
		if !checked {
			// The cache may hold a Job deleted or replaced a moment ago:
			// pods adopted for it would go to a ghost.
			if err := c.canAdopt(ctx, j); err != nil {
				return out, errors.Join(append(errs, err)...)
			}
			checked = true
		}
		if err := claim.Adopt(ctx, c.client, j, jobKind, p, batchv1.JobTrackingFinalizer); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func (c *Controller) canAdopt(ctx context.Context, j *batchv1.Job) error {
	fresh, err := c.client.BatchV1().Jobs(j.Namespace).Get(ctx, j.Name, metav1.GetOptions{})
	switch {
	case err != nil:
		return err
	case fresh.UID != j.UID:
		return fmt.Errorf("job %s/%s: original object (UID %s) is gone, now UID %s", j.Namespace, j.Name, j.UID, fresh.UID)
	case fresh.DeletionTimestamp != nil:
		return fmt.Errorf("job %s/%s (UID %s) is being deleted: it adopts nothing", j.Namespace, j.Name, j.UID)
	}
	return nil
}

// jobsSelecting are the Jobs in an orphan pod's namespace whose selector
// matches it: the candidates to adopt it.
func (c *Controller) jobsSelecting(pod *corev1.Pod) []*batchv1.Job {
	if len(pod.Labels) == 0 {
		return nil
	}
	list, err := c.jobs.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*batchv1.Job
	for _, j := range list {
		selector, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		if err == nil && !selector.Empty() && selector.Matches(labels.Set(pod.Labels)) && !isFinished(j) {
			out = append(out, j)
		}
	}
	return out
}
