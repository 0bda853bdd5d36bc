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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller"
	"github.com/skiffhq/skiff/pkg/controller/owners"
)

// sync brings one set's pods and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	s, err := c.kind.get(ns, name)
	if apierrors.IsNotFound(err) {
		c.expect.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	selector := s.selector()
	if selector == nil {
		// An empty selector would match every pod in the namespace; the API
		// refuses it, and so does the controller.
		c.log.Info("ignoring an object with an empty or invalid selector", c.info.logKey, key)
		return nil
	}
	resize := c.expect.Satisfied(key)

	active, terminating := c.candidatePods(s)
	pods, err := c.claimPods(ctx, s, selector, active)
	if err != nil {
		return err
	}
	var manageErr error
	if resize && s.meta().DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, s, pods, key)
	}
	now := c.now()
	st := calculateStatus(s, pods, countMatching(terminating, selector, c.info.terminating), manageErr, now)
	updated, err := c.updateStatus(ctx, s, st, now)
	if err != nil {
		return errors.Join(manageErr, err)
	}
	if mrs := updated.minReadySeconds(); manageErr == nil && mrs > 0 {
		n, cur := updated.replicas(), updated.status()
		if cur.ready == n && cur.available != n {
			// Ready but not yet available: look again once they have been ready long enough.
			c.queue.AddAfter(key, time.Duration(mrs)*time.Second)
		}
	}
	return manageErr
}

// candidatePods are the active pods the set controls plus the active orphans in
// its namespace (which it may adopt), and the pods it controls that are being
// deleted.
func (c *Controller) candidatePods(s set) (active, terminating []*corev1.Pod) {
	m := s.meta()
	owned, _ := c.pods.ByIndex(owners.Index, owners.ControlledKey(m.UID))
	orphans, _ := c.pods.ByIndex(owners.Index, owners.OrphanKey(m.Namespace))
	active = make([]*corev1.Pod, 0, len(owned)+len(orphans))
	for _, list := range [][]any{owned, orphans} {
		for _, obj := range list {
			pod := obj.(*corev1.Pod)
			if pod.Namespace != m.Namespace {
				continue
			}
			if podActive(pod) {
				active = append(active, pod)
			} else if c.info.terminating && podTerminating(pod) && metav1.IsControlledBy(pod, m) {
				terminating = append(terminating, pod)
			}
		}
	}
	return active, terminating
}

// countMatching counts the pods the selector matches, if the kind's status
// has room for that number.
func countMatching(pods []*corev1.Pod, selector labels.Selector, counted bool) *int32 {
	if !counted {
		return nil
	}
	var n int32
	for _, p := range pods {
		if selector.Matches(labels.Set(p.Labels)) {
			n++
		}
	}
	return &n
}

// podActive: a pod that has finished, or is being deleted, no longer counts.
func podActive(pod *corev1.Pod) bool {
	return !podFinished(pod) && pod.DeletionTimestamp == nil
}

// podTerminating: being deleted, and not finished yet.
func podTerminating(pod *corev1.Pod) bool {
	return !podFinished(pod) && pod.DeletionTimestamp != nil
}

func podFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// manageReplicas creates or deletes pods so their number meets spec.replicas,
// at most BurstReplicas per sync.
func (c *Controller) manageReplicas(ctx context.Context, s set, pods []*corev1.Pod, key string) error {
	diff := len(pods) - int(s.replicas())
	switch {
	case diff < 0:
		n := min(-diff, c.opts.BurstReplicas)
		// Expect them before creating any: the informer may report a new pod
		// before Create returns.
		c.expect.ExpectCreations(key, n)
		created, err := slowStartBatch(n, c.firstBatch.get(key), func() error { return c.createPod(ctx, s) })
		for range n - created {
			c.expect.CreationObserved(key) // never coming
		}
		c.firstBatch.learn(key, created, err)
		return err
	case diff > 0:
		n := min(diff, c.opts.BurstReplicas)
		victims := podsToDelete(pods, c.relatedPods(s), n, c.now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = mustKey(p)
		}
		c.expect.ExpectDeletions(key, keys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxInFlight)
		for i, pod := range victims {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				errs[i] = c.deletePodOf(ctx, s, pod, key, keys[i])
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

// relatedPods are the active pods of every set that shares s's controller (a
// Deployment's old and new ReplicaSets): where they crowd a node is where a
// scale-down takes pods first. Nil when s has no controller: then its own pods
// are what counts.
func (c *Controller) relatedPods(s set) []*corev1.Pod {
	var out []*corev1.Pod
	for _, sib := range c.kind.siblings(s) {
		owned, _ := c.pods.ByIndex(owners.Index, owners.ControlledKey(sib.meta().UID))
		for _, obj := range owned {
			if pod := obj.(*corev1.Pod); podActive(pod) {
				out = append(out, pod)
			}
		}
	}
	return out
}

// maxInFlight bounds the requests one sync has in flight. Upstream's
// controller-manager is held back by its client's rate limit instead; with
// none, hundreds of concurrent requests would only queue in the API server.
const maxInFlight = 64

// firstBatches remembers, per set, how large a slow start may begin: with 1
// while creates are failing or have not been tried, as upstream always does,
// and with as many as the last sync created once they succeed, up to
// maxInFlight. A big set then ramps up once, not again for each sync of
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

func (c *Controller) createPod(ctx context.Context, s set) error {
	pod, err := podFromTemplate(s, c.info.gvk)
	if err != nil {
		c.recorder.Eventf(s.object(), corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	created, err := c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if isNamespaceTerminating(err) {
			// The namespace is going away with everything in it: nothing to report.
			return nil
		}
		c.recorder.Eventf(s.object(), corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	c.recorder.Eventf(s.object(), corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodOf(ctx context.Context, s set, pod *corev1.Pod, key, podKey string) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if err == nil {
		c.recorder.Eventf(s.object(), corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", pod.Name)
		return nil
	}
	// No event will come for a delete that did not happen.
	c.expect.DeletionObserved(key, podKey)
	if apierrors.IsNotFound(err) {
		return nil
	}
	c.recorder.Eventf(s.object(), corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
	return fmt.Errorf("deleting pod %s: %w", podKey, err)
}

// podFromTemplate is the pod a set creates: its template (whose labels and
// annotations only, never the set's own), a generated name prefixed by the
// set's, and a controller reference to the set.
func podFromTemplate(s set, gvk schema.GroupVersionKind) (*corev1.Pod, error) {
	m, t := s.meta(), s.template()
	if t == nil {
		return nil, fmt.Errorf("%s %s/%s has no pod template", gvk.Kind, m.Namespace, m.Name)
	}
	if len(t.Labels) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	return controller.PodFromTemplate(t, m, gvk), nil
}
