package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/cache"
)

var rcKind = corev1.SchemeGroupVersion.WithKind("ReplicationController")

// sync brings one RC's pods and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rc, err := c.rcs.ReplicationControllers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if len(rc.Spec.Selector) == 0 {
		// An empty selector would match every pod in the namespace; the API
		// refuses it, and so does the controller.
		c.log.Info("ignoring RC with an empty selector", "rc", key)
		return nil
	}
	resize := c.expect.satisfied(key)
	selector := labels.SelectorFromSet(rc.Spec.Selector)

	pods, err := c.claimPods(ctx, rc, selector, c.candidatePods(rc))
	if err != nil {
		return err
	}
	var manageErr error
	if resize && rc.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, rc, pods, key)
	}
	status := calculateStatus(rc, pods, manageErr, c.now())
	updated, err := c.updateStatus(ctx, rc, status)
	if err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicas(updated) && updated.Status.AvailableReplicas != replicas(updated) {
		// Ready but not yet available: look again once they have been ready long enough.
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

func replicas(rc *corev1.ReplicationController) int32 {
	if rc.Spec.Replicas == nil {
		return 1
	}
	return *rc.Spec.Replicas
}

// candidatePods are the active pods the RC controls plus the active orphans in
// its namespace (which it may adopt).
func (c *Controller) candidatePods(rc *corev1.ReplicationController) []*corev1.Pod {
	owned, _ := c.pods.ByIndex(controllerIndex, ownedKey(string(rc.UID)))
	orphans, _ := c.pods.ByIndex(controllerIndex, orphanKey(rc.Namespace))
	out := make([]*corev1.Pod, 0, len(owned)+len(orphans))
	for _, list := range [][]any{owned, orphans} {
		for _, obj := range list {
			pod := obj.(*corev1.Pod)
			if pod.Namespace == rc.Namespace && podActive(pod) {
				out = append(out, pod)
			}
		}
	}
	return out
}

// podActive: a pod that has finished, or is being deleted, no longer counts.
func podActive(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp == nil
}

// manageReplicas creates or deletes pods so their number meets spec.replicas,
// at most BurstReplicas per sync.
func (c *Controller) manageReplicas(ctx context.Context, rc *corev1.ReplicationController, pods []*corev1.Pod, key string) error {
	diff := len(pods) - int(replicas(rc))
	switch {
	case diff < 0:
		n := min(-diff, c.opts.BurstReplicas)
		// Expect them before creating any: the informer may report a new pod
		// before Create returns.
		c.expect.expectCreations(key, n)
		created, err := slowStartBatch(n, c.firstBatch.get(key), func() error { return c.createPod(ctx, rc) })
		for range n - created {
			c.expect.creationObserved(key) // never coming
		}
		c.firstBatch.learn(key, created, err)
		return err
	case diff > 0:
		n := min(diff, c.opts.BurstReplicas)
		victims := podsToDelete(pods, n, c.now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = mustKey(p)
		}
		c.expect.expectDeletions(key, keys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxInFlight)
		for i, pod := range victims {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				errs[i] = c.deletePodOf(ctx, rc, pod, key, keys[i])
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

// maxInFlight bounds the requests one sync has in flight. Upstream's
// controller-manager is held back by its client's rate limit instead; with
// none, hundreds of concurrent requests would only queue in the API server.
const maxInFlight = 64

// firstBatches remembers, per RC, how large a slow start may begin: with 1
// while creates are failing or have not been tried, as upstream always does,
// and with as many as the last sync created once they succeed, up to
// maxInFlight. A big RC then ramps up once, not again for each sync of
// BurstReplicas pods; a create that starts failing costs one batch once.
type firstBatches struct {
	mu sync.Mutex
	m  map[string]int
}

func (f *firstBatches) get(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return max(f.m[key], 1)
}

func (f *firstBatches) learn(key string, created int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || created == 0 {
		delete(f.m, key)
		return
	}
	f.m[key] = min(created, maxInFlight)
}

func (f *firstBatches) forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}

// slowStartBatch calls fn count times, in parallel batches that start at
// initial and double while every call succeeds, so a failing create (a quota, a
// webhook, a terminating namespace) costs one request instead of hundreds. At
// most maxInFlight calls run at once. It returns how many calls succeeded.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	done := 0
	slots := make(chan struct{}, maxInFlight)
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-done) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		done += batch - len(errs)
		if len(errs) > 0 {
			return done, <-errs
		}
	}
	return done, nil
}

func (c *Controller) createPod(ctx context.Context, rc *corev1.ReplicationController) error {
	pod, err := podFromTemplate(rc)
	if err != nil {
		c.recorder.Eventf(rc, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	created, err := c.client.CoreV1().Pods(rc.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if isNamespaceTerminating(err) {
			// The namespace is going away with everything in it: nothing to report.
			return nil
		}
		c.recorder.Eventf(rc, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	c.recorder.Eventf(rc, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodOf(ctx context.Context, rc *corev1.ReplicationController, pod *corev1.Pod, key, podKey string) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if err == nil {
		c.recorder.Eventf(rc, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", pod.Name)
		return nil
	}
	// No event will come for a delete that did not happen.
	c.expect.deletionObserved(key, podKey)
	if apierrors.IsNotFound(err) {
		return nil
	}
	c.recorder.Eventf(rc, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
	return fmt.Errorf("deleting pod %s: %w", podKey, err)
}

// podFromTemplate is the pod an RC creates: its template, a generated name
// prefixed by the RC's, and a controller reference to the RC.
func podFromTemplate(rc *corev1.ReplicationController) (*corev1.Pod, error) {
	t := rc.Spec.Template
	if t == nil {
		return nil, fmt.Errorf("replication controller %s/%s has no pod template", rc.Namespace, rc.Name)
	}
	if len(t.Labels) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podNamePrefix(rc.Name),
			Namespace:       rc.Namespace,
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rc, rcKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	return pod, nil
}

// podNamePrefix is "NAME-" unless that is not a valid generateName prefix.
func podNamePrefix(name string) string {
	prefix := name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		return name
	}
	return prefix
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
