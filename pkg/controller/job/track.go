package job

import (
	"context"
	"errors"
	"fmt"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// track counts the Job's finished pods exactly once and writes the status:
//
//  1. finished pods that still carry the tracking finalizer go into
//     status.uncountedTerminatedPods (Indexed: their indexes straight into
//     completedIndexes), and the status is written;
//  2. their finalizers are removed;
//  3. the pods whose finalizer is gone move from uncountedTerminatedPods to
//     succeeded and failed, and, once nothing is left uncounted nor
//     terminating, the Job gets its Complete or Failed condition.
//
// A pod deleted before step 3 was made durable in step 1, so it is still
// counted; a pod whose finalizer is gone is never counted again.
func (c *Controller) track(ctx context.Context, s *jobState, shared *batchv1.Job) error {
	j := s.job
	u := j.Status.UncountedTerminatedPods
	completions := int(ptr.Deref(j.Spec.Completions, 0))
	withFinalizer := sets.New[types.UID]()
	for _, p := range s.pods {
		if hasTrackingFinalizer(p) && !s.removing.Has(p.UID) {
			withFinalizer.Insert(p.UID)
		}
	}
	countReleased(&j.Status, withFinalizer)

	failing := s.finished != nil && !isSuccessCriteriaMet(s.finished)
	var release []*corev1.Pod
	capped := false
	for _, p := range s.pods {
		if !withFinalizer.Has(p.UID) {
			continue
		}
		failed := podFailed(p, j)
		if j.DeletionTimestamp == nil && s.finished == nil && p.Status.Phase != corev1.PodSucceeded && !failed {
			continue // still running, and still needed
		}
		ix, hasIndex := completionIndex(p, completions)
		if hasIndex && j.DeletionTimestamp == nil && s.finished == nil && failed && s.lastFailed[ix] == p {
			continue // its replacement takes its index failure counts first
		}
		release = append(release, p)
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !s.uncountedFailed.Has(p.UID):
			// Indexed: the index in completedIndexes is the record.
			if !indexed(j) && !s.uncountedSucceeded.Has(p.UID) {
				u.Succeeded = append(u.Succeeded, p.UID)
			}
		case failed || failing:
			if !s.uncountedFailed.Has(p.UID) && (!indexed(j) || hasIndex) && matchFailurePolicy(j.Spec.PodFailurePolicy, p).counts {
				u.Failed = append(u.Failed, p.UID)
			}
		}
		if len(release) >= maxUncountedPods {
			capped = true // the rest next time: the status stays small
			break
		}
	}
	if indexed(j) {
		j.Status.Succeeded = int32(s.completed.total())
		j.Status.CompletedIndexes = s.completed.String()
	}
	if perIndex(j) {
		j.Status.FailedIndexes = ptr.To(s.failedIdx.String())
	}
	now := c.clock.Now()
	if s.finished != nil && s.finished.Type == batchv1.JobFailureTarget {
		if conditionTrue(j.Status.Conditions, batchv1.JobFailureTarget) == nil {
			j.Status.Conditions = append(j.Status.Conditions, *s.finished)
		}
		s.finished = newCondition(batchv1.JobFailed, corev1.ConditionTrue, s.finished.Reason, s.finished.Message, now)
	}
	if isSuccessCriteriaMet(s.finished) {
		if conditionTrue(j.Status.Conditions, batchv1.JobSuccessCriteriaMet) == nil {
			j.Status.Conditions = append(j.Status.Conditions, *s.finished)
		}
		s.finished = newCondition(batchv1.JobComplete, corev1.ConditionTrue, s.finished.Reason, s.finished.Message, now)
	}

	written := &shared.Status
	if len(release) > 0 && !equality.Semantic.DeepEqual(&j.Status, written) {
		if err := c.writeStatus(ctx, s.key, j); err != nil {
			return err
		}
		written = j.Status.DeepCopy()
	}
	removed, removeErr := c.releasePods(ctx, s.key, release)
	countReleased(&j.Status, withFinalizer.Difference(removed))

	finishes := !capped && s.finished != nil && len(u.Succeeded)+len(u.Failed) == 0 && s.terminating == 0
	if finishes {
		j.Status.Conditions, _ = ensureCondition(j.Status.Conditions, s.finished.Type, s.finished.Status, s.finished.Reason, s.finished.Message, now)
		if s.finished.Type == batchv1.JobComplete {
			j.Status.CompletionTime = ptr.To(metav1.NewTime(now))
		}
	}
	if !equality.Semantic.DeepEqual(&j.Status, written) {
		if err := c.writeStatus(ctx, s.key, j); err != nil {
			return errors.Join(err, removeErr)
		}
		if finishes {
			if s.finished.Type == batchv1.JobComplete {
				c.event(j, corev1.EventTypeNormal, "Completed", "Job completed")
			} else {
				c.event(j, corev1.EventTypeWarning, s.finished.Reason, s.finished.Message)
			}
		}
	}
	if removeErr == nil {
		c.backoff.set(s.key, s.backoff)
	}
	return removeErr
}

// countReleased moves the uncounted pods whose finalizer is gone (they are
// not in withFinalizer) to the counters.
func countReleased(st *batchv1.JobStatus, withFinalizer sets.Set[types.UID]) {
	u := st.UncountedTerminatedPods
	keep := func(uids []types.UID, counter *int32) []types.UID {
		var out []types.UID
		for _, uid := range uids {
			if withFinalizer.Has(uid) {
				out = append(out, uid)
			} else {
				*counter++
			}
		}
		return out
	}
	u.Succeeded = keep(u.Succeeded, &st.Succeeded)
	u.Failed = keep(u.Failed, &st.Failed)
}

// releasePods removes the tracking finalizer of pods, and returns those it
// was removed from.
func (c *Controller) releasePods(ctx context.Context, key string, pods []*corev1.Pod) (sets.Set[types.UID], error) {
	removed := sets.New[types.UID]()
	if len(pods) == 0 {
		return removed, nil
	}
	uids := make([]types.UID, len(pods))
	for i, p := range pods {
		uids[i] = p.UID
	}
	c.expect.expectFinalizersRemoved(key, uids)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Go(func() {
			err := c.patchFinalizerAway(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				c.expect.finalizerRemovalObserved(key, p.UID) // not coming: retry
				errs = append(errs, err)
				return
			}
			removed.Insert(p.UID)
		})
	}
	wg.Wait()
	return removed, errors.Join(errs...)
}

// writeStatus writes j's status and remembers the write until the informer
// has it.
func (c *Controller) writeStatus(ctx context.Context, key string, j *batchv1.Job) error {
	out, err := c.client.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("updating the status of job %q: %w", key, err)
	}
	j.ResourceVersion = out.ResourceVersion
	c.writes.wrote(key, out.UID, out.ResourceVersion)
	return nil
}
