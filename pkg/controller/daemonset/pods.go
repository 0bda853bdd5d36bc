package daemonset

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/controller"
)

// maxInFlight bounds the requests one sync has in flight. Upstream's
// controller-manager is held back by its client's rate limit instead; with
// none, hundreds of concurrent requests would only queue in the API server.
const maxInFlight = 64

// syncNodes deletes del and creates a daemon pod for each node in create, at
// most BurstReplicas of each. Creates go in slow-start batches (1, 2, 4, ...)
// so that a create that fails (a quota, a terminating namespace) fails once,
// not a hundred times.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, key string, del []deletion, create []string, hash string) error {
	create = create[:min(len(create), c.opts.BurstReplicas)]
	del = del[:min(len(del), c.opts.BurstReplicas)]
	if len(create) == 0 && len(del) == 0 {
		return nil
	}
	keys := make([]string, len(del))
	for i, d := range del {
		keys[i] = podKey(d.pod)
	}
	c.expect.Expect(key, len(create), keys)

	var errs []error
	if len(create) > 0 {
		template := podTemplate(ds, templateGeneration(ds), hash)
		created, err := slowStart(len(create), func(i int) error {
			return c.createPod(ctx, ds, key, template, create[i])
		})
		for range len(create) - created {
			c.expect.CreationObserved(key) // never coming
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(del) > 0 {
		delErrs := make([]error, len(del))
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxInFlight)
		for i, d := range del {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				delErrs[i] = c.deletePodOf(ctx, ds, key, d)
			})
		}
		wg.Wait()
		errs = append(errs, delErrs...)
	}
	return errors.Join(errs...)
}

// slowStart calls fn(0..count-1) in parallel batches that start at one and
// double while every call succeeds, at most maxInFlight at once. It returns
// how many calls succeeded; after a batch with a failure it stops.
func slowStart(count int, fn func(i int) error) (int, error) {
	done := 0
	slots := make(chan struct{}, maxInFlight)
	for pos, batch := 0, min(count, 1); batch > 0; batch = min(2*batch, count-pos) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for i := range batch {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				errs[i] = fn(pos + i)
			})
		}
		wg.Wait()
		pos += batch
		var failed []error
		for _, err := range errs {
			if err != nil {
				failed = append(failed, err)
			}
		}
		done += batch - len(failed)
		if len(failed) > 0 {
			return done, failed[0]
		}
	}
	return done, nil
}

// podTemplate is ds's template as its pods get it: with the daemon
// tolerations, and labelled with the revision's hash and the template
// generation.
func podTemplate(ds *appsv1.DaemonSet, generation *int64, hash string) *corev1.PodTemplateSpec {
	t := ds.Spec.Template.DeepCopy()
	t.Spec.Tolerations = withDaemonTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if generation != nil {
		t.Labels[generationLabel] = strconv.FormatInt(*generation, 10)
	}
	if hash != "" {
		t.Labels[hashLabel] = hash
	}
	return t
}

// newPod is the pod of template for node: named after ds, controlled by it,
// and held by its node affinity to node, where the scheduler will bind it.
func newPod(ds *appsv1.DaemonSet, template *corev1.PodTemplateSpec, node string) *corev1.Pod {
	pod := controller.PodFromTemplate(template, ds, daemonSetKind)
	pod.Spec.Affinity = pinToNode(pod.Spec.Affinity, node)
	return pod
}

func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, key string, template *corev1.PodTemplateSpec, node string) error {
	pod := newPod(ds, template, node)
	created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			// Everything in the namespace is going: nothing to report or retry.
			c.expect.CreationObserved(key)
			return nil
		}
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("creating a pod of DaemonSet %s for node %s: %w", key, node, err)
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodOf(ctx context.Context, ds *appsv1.DaemonSet, key string, d deletion) error {
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &d.pod.UID}}
	if d.force {
		var zero int64
		opts.GracePeriodSeconds = &zero
	}
	err := c.client.CoreV1().Pods(d.pod.Namespace).Delete(ctx, d.pod.Name, opts)
	if err == nil {
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", d.pod.Name)
		return nil
	}
	// No event will come for a delete that did not happen.
	c.expect.DeletionObserved(key, podKey(d.pod))
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or replaced under the same name
	}
	c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
	return fmt.Errorf("deleting pod %s of DaemonSet %s: %w", podKey(d.pod), key, err)
}
