package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// manage creates or deletes pods so that the Job runs as many as it still
// needs, and returns how many are active then. It either creates or deletes,
// never both in one sync.
func (c *Controller) manage(ctx context.Context, s *jobState) (int32, error) {
	j := s.job
	active := int32(len(s.active))
	want := int32(0)
	switch {
	case suspended(j):
	case j.Spec.Completions == nil && s.succeeded > 0:
		want = active // one success ends the Job: let the others finish
	case j.Spec.Completions == nil:
		want = ptr.Deref(j.Spec.Parallelism, 1)
	default:
		want = max(0, min(ptr.Deref(j.Spec.Parallelism, 1), *j.Spec.Completions-s.succeeded))
	}
	if excess := excessPods(s, want); len(excess) > 0 {
		deleted, deletedReady, err := c.deletePods(ctx, s, excess[:min(len(excess), maxPodsPerSync)], false)
		s.terminating += deleted
		s.ready -= deletedReady
		return active - deleted, err
	}
	diff := want - active
	if onlyReplaceFailedPods(j) {
		diff -= s.terminating // their replacements wait until they have failed
	}
	if diff <= 0 {
		return active, nil
	}
	if d := s.backoff.delay(c.clock.Now()); d > 0 && !perIndex(j) {
		c.queue.AddAfter(s.key, d)
		return active, nil
	}
	diff = min(diff, maxPodsPerSync)
	var indexes []int
	if indexed(j) {
		indexes = pendingIndexes(s, int(diff))
		if perIndex(j) {
			var wait time.Duration
			indexes, wait = indexesDue(s, indexes, c.clock.Now())
			if len(indexes) == 0 && wait > 0 {
				c.queue.AddAfter(s.key, wait)
				return active, nil
			}
		}
		diff = int32(len(indexes))
	}
	created, err := c.createPods(ctx, s, int(diff), indexes)
	return active + created, err
}

// excessPods are the active pods to delete so that at most want remain,
// least advanced first; in an Indexed Job also every pod of an index out of
// range, already completed, or held by a better pod.
func excessPods(s *jobState, want int32) []*corev1.Pod {
	pods := slices.Clone(s.active)
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int { return progress(a) - progress(b) })
	var out, keep []*corev1.Pod
	if indexed(s.job) {
		completions := int(ptr.Deref(s.job.Spec.Completions, 0))
		held := map[int]bool{}
		for _, p := range slices.Backward(pods) { // the most advanced keeps its index
			ix, ok := completionIndex(p, completions)
			if !ok || held[ix] || s.completed.has(ix) {
				out = append(out, p)
				continue
			}
			held[ix] = true
			keep = append(keep, p)
		}
		slices.Reverse(keep)
	} else {
		keep = pods
	}
	if n := len(keep) - int(want); n > 0 {
		out = append(out, keep[:n]...)
	}
	return out
}

// progress ranks a pod by how far it got: unscheduled, pending, running,
// ready.
func progress(p *corev1.Pod) int {
	switch {
	case p.Spec.NodeName == "":
		return 0
	case p.Status.Phase == corev1.PodPending:
		return 1
	case !podReady(p):
		return 2
	}
	return 3
}

// pendingIndexes are the first n indexes that have neither completed nor an
// active pod.
func pendingIndexes(s *jobState, n int) []int {
	completions := int(ptr.Deref(s.job.Spec.Completions, 0))
	held := map[int]bool{}
	for _, p := range s.active {
		if ix, ok := completionIndex(p, completions); ok {
			held[ix] = true
		}
	}
	if onlyReplaceFailedPods(s.job) {
		for _, p := range s.pods {
			if ix, ok := completionIndex(p, completions); ok && podTerminating(p) {
				held[ix] = true // replaced once it has failed
			}
		}
	}
	var out []int
	for ix := 0; ix < completions && len(out) < n; ix++ {
		if !held[ix] && !s.completed.has(ix) && !s.failedIdx.has(ix) {
			out = append(out, ix)
		}
	}
	return out
}

// indexesDue are the indexes whose back-off has passed, and else how long
// until the first one's does.
func indexesDue(s *jobState, indexes []int, now time.Time) ([]int, time.Duration) {
	var due []int
	var wait time.Duration
	for _, ix := range indexes {
		d := indexDelay(s.lastFailed[ix], now)
		if d == 0 {
			due = append(due, ix)
		} else if wait == 0 || d < wait {
			wait = d
		}
	}
	return due, wait
}

// completionIndex is a pod's completion index, if it has a valid one below
// completions.
func completionIndex(p *corev1.Pod, completions int) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	ix, err := strconv.Atoi(v)
	return ix, err == nil && ix >= 0 && ix < completions
}

// createPods creates n pods (for the given indexes of an Indexed Job) in
// batches of 1, 2, 4, ... that stop at the first batch with a failure, as
// upstream's slow start does, and returns how many were created.
func (c *Controller) createPods(ctx context.Context, s *jobState, n int, indexes []int) (int32, error) {
	c.expect.ExpectCreations(s.key, n)
	var created atomic.Int32
	var mu sync.Mutex
	var errs []error
	for batch, done := min(n, 1), 0; done < n; batch = min(2*batch, n-done) {
		var wg sync.WaitGroup
		for i := range batch {
			ix := -1
			if indexes != nil {
				ix = indexes[done+i]
			}
			wg.Go(func() {
				if err := c.createPod(ctx, s, ix); err != nil {
					c.expect.CreationObserved(s.key)
					if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
					return
				}
				created.Add(1)
			})
		}
		wg.Wait()
		done += batch
		if len(errs) > 0 {
			for range n - done {
				c.expect.CreationObserved(s.key) // never sent
			}
			break
		}
	}
	return created.Load(), errors.Join(errs...)
}

func (c *Controller) createPod(ctx context.Context, s *jobState, index int) error {
	j := s.job
	pod := newPod(j, index)
	if perIndex(j) && index >= 0 {
		failures, ignored := replacementCounts(j, s.lastFailed[index])
		pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(failures))
		if ignored > 0 {
			pod.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
		}
	}
	out, err := c.client.CoreV1().Pods(j.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		c.event(j, corev1.EventTypeWarning, "FailedCreate", fmt.Sprintf("Error creating: %v", err))
		return fmt.Errorf("creating a pod of job %s/%s: %w", j.Namespace, j.Name, err)
	}
	c.event(j, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: "+out.Name)
	return nil
}

// maxGeneratedNamePrefix leaves room for the five random characters of a
// generated name within the 63 of a label value (the pod's hostname).
const maxGeneratedNamePrefix = 58

// newPod is a pod of the Job's template, controlled by the Job, carrying the
// tracking finalizer and, in an Indexed Job, its completion index.
func newPod(j *batchv1.Job, index int) *corev1.Pod {
	t := j.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    j.Name + "-",
			Namespace:       j.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      append(t.Finalizers, batchv1.JobTrackingFinalizer),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(j, jobKind)},
		},
		Spec: t.Spec,
	}
	if index < 0 {
		return pod
	}
	ix := strconv.Itoa(index)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = ix
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = ix
	pod.Spec.Hostname = j.Name + "-" + ix
	name := j.Name
	if len(name)+len(ix)+2 > maxGeneratedNamePrefix {
		name = name[:max(0, maxGeneratedNamePrefix-len(ix)-2)]
	}
	pod.GenerateName = name + "-" + ix + "-"
	env := corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation)},
	}}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if !slices.ContainsFunc(list[i].Env, func(e corev1.EnvVar) bool { return e.Name == env.Name }) {
				list[i].Env = append(list[i].Env, env)
			}
		}
	}
	return pod
}

// deletePods deletes pods of the Job and returns how many it deleted, and
// how many of those were ready. Pods the Job still needs (it is failing:
// they count as failed) keep their finalizer; the others lose it first, so
// that they are not counted at all.
func (c *Controller) deletePods(ctx context.Context, s *jobState, pods []*corev1.Pod, count bool) (int32, int32, error) {
	if len(pods) == 0 {
		return 0, 0, nil
	}
	keys := make([]string, len(pods))
	var uids []types.UID
	for i, p := range pods {
		keys[i] = mustKey(p)
		if !count && hasTrackingFinalizer(p) {
			uids = append(uids, p.UID)
		}
	}
	c.expect.ExpectDeletions(s.key, keys)
	c.expect.expectFinalizersRemoved(s.key, uids)
	var deleted, ready atomic.Int32
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Go(func() {
			err := c.deleteOne(ctx, s.job, p, count)
			if err != nil {
				c.expect.DeletionObserved(s.key, mustKey(p))
				c.expect.finalizerRemovalObserved(s.key, p.UID)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			deleted.Add(1)
			if podReady(p) {
				ready.Add(1)
			}
		})
	}
	wg.Wait()
	return deleted.Load(), ready.Load(), errors.Join(errs...)
}

func (c *Controller) deleteOne(ctx context.Context, j *batchv1.Job, p *corev1.Pod, count bool) error {
	if !count && hasTrackingFinalizer(p) {
		if err := c.patchFinalizerAway(ctx, p); err != nil {
			return err
		}
	}
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(p.UID))})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already (a conflict: its name is another pod's now)
	}
	if err != nil {
		c.event(j, corev1.EventTypeWarning, "FailedDelete", fmt.Sprintf("Error deleting: %v", err))
		return fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	c.event(j, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: "+p.Name)
	return nil
}

// finalizerPatch removes the tracking finalizer, and only it.
var finalizerPatch = []byte(fmt.Sprintf(`{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, batchv1.JobTrackingFinalizer))

// patchFinalizerAway removes the tracking finalizer from a pod; a pod that is
// gone has none.
func (c *Controller) patchFinalizerAway(ctx context.Context, p *corev1.Pod) error {
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, finalizerPatch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the finalizer of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
