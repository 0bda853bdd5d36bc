package job

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/owners"
)

// claimPods are the pods the Job controls once it adopted the orphans its
// selector matches (they get the tracking finalizer, and count from the next
// sync) and released the pods it no longer matches (they lose the finalizer
// uncounted), as upstream's Job controller does. A Job with an empty selector
// adopts nothing.
func (c *Controller) claimPods(ctx context.Context, j *batchv1.Job) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s: selector: %w", j.Namespace, j.Name, err)
	}
	cl := claim.Claimer[*corev1.Pod]{
		Owner: j,
		Kind:  jobKind,
		Wants: func(p *corev1.Pod) bool { return selector.Matches(labels.Set(p.Labels)) },
		Get: func(ctx context.Context) (metav1.Object, error) {
			return c.client.BatchV1().Jobs(j.Namespace).Get(ctx, j.Name, metav1.GetOptions{})
		},
		Patch:      c.patchPod,
		Finalizers: []string{batchv1.JobTrackingFinalizer},
	}
	var orphans []*corev1.Pod
	if !selector.Empty() {
		orphans = owners.Orphans[*corev1.Pod](c.pods, j.Namespace)
	}
	return cl.Claim(ctx, c.podsOf(j), orphans)
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
