package job

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// backoffLimitPerIndex: an Indexed Job whose indexes fail on their own. Each
// pod carries how often its index failed before it (the index failure count
// annotations, copied from the failed pod it replaces, which keeps its
// finalizer until then); an index fails for good when a pod fails with the
// count at the limit, or a FailIndex rule matches. The Job fails once every
// index succeeded or failed (FailedIndexes), or at once when more than
// maxFailedIndexes failed.

func perIndex(j *batchv1.Job) bool { return indexed(j) && j.Spec.BackoffLimitPerIndex != nil }

// failedIndexes are status.failedIndexes and the indexes of the Job's
// uncounted failed pods that fail their index.
func failedIndexes(j *batchv1.Job, pods []*corev1.Pod, completions int) intervals {
	var prev intervals
	if j.Status.FailedIndexes != nil {
		prev = parseIntervals(*j.Status.FailedIndexes, completions)
	}
	var idx []int
	for _, p := range pods {
		if ix, ok := completionIndex(p, completions); ok && hasTrackingFinalizer(p) && failsIndex(j, p) {
			idx = append(idx, ix)
		}
	}
	return prev.with(idx)
}

func failsIndex(j *batchv1.Job, p *corev1.Pod) bool {
	if !podFailed(p, j) {
		return false
	}
	v := matchFailurePolicy(j.Spec.PodFailurePolicy, p)
	if v.action != nil && *v.action == batchv1.PodFailurePolicyActionFailIndex {
		return true
	}
	return v.counts && indexFailures(p) >= *j.Spec.BackoffLimitPerIndex
}

// indexFailures and ignoredIndexFailures are a pod's index failure counts
// from before it.
func indexFailures(p *corev1.Pod) int32 {
	return annotationInt32(p, batchv1.JobIndexFailureCountAnnotation)
}

func ignoredIndexFailures(p *corev1.Pod) int32 {
	return annotationInt32(p, batchv1.JobIndexIgnoredFailureCountAnnotation)
}

func annotationInt32(p *corev1.Pod, name string) int32 {
	n, err := strconv.ParseInt(p.Annotations[name], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// lastFailedPerIndex are, for each index still to run, its latest failed pod
// that still carries the finalizer: the one its replacement takes the counts
// from, and whose finalizer waits until then.
func lastFailedPerIndex(s *jobState, completions int) map[int]*corev1.Pod {
	activeIdx := map[int]bool{}
	for _, p := range s.active {
		if ix, ok := completionIndex(p, completions); ok {
			activeIdx[ix] = true
		}
	}
	out := map[int]*corev1.Pod{}
	for _, p := range s.pods {
		if !hasTrackingFinalizer(p) || s.removing.Has(p.UID) || !podFailed(p, s.job) {
			continue
		}
		ix, ok := completionIndex(p, completions)
		if !ok || activeIdx[ix] || s.completed.has(ix) || s.failedIdx.has(ix) {
			continue
		}
		last, ok := out[ix]
		if !ok || (indexFailures(last)+ignoredIndexFailures(last) <= indexFailures(p)+ignoredIndexFailures(p) &&
			!finishedAt(p).Before(finishedAt(last))) {
			out[ix] = p
		}
	}
	return out
}

// indexDelay is how long the replacement of an index's failed pod still
// waits: the Job back-off, over the index's failures.
func indexDelay(failed *corev1.Pod, now time.Time) time.Duration {
	if failed == nil {
		return 0
	}
	r := backoffRecord{failures: int(indexFailures(failed)+ignoredIndexFailures(failed)) + 1, lastFailure: finishedAt(failed)}
	return r.delay(now)
}

// replacementCounts are the index failure counts of the pod that replaces
// failed.
func replacementCounts(j *batchv1.Job, failed *corev1.Pod) (failures, ignored int32) {
	if failed == nil {
		return 0, 0
	}
	failures, ignored = indexFailures(failed), ignoredIndexFailures(failed)
	if matchFailurePolicy(j.Spec.PodFailurePolicy, failed).counts {
		failures++
	} else {
		ignored++
	}
	return failures, ignored
}

// perIndexFailure is the condition a Job with failed indexes fails with.
func perIndexFailure(s *jobState, now time.Time) *batchv1.JobCondition {
	j, failed := s.job, s.failedIdx.total()
	if max := j.Spec.MaxFailedIndexes; max != nil && failed > int(*max) {
		return newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonMaxFailedIndexesExceeded, msgMaxFailedIndexes, now)
	}
	if failed > 0 && failed+s.completed.total() >= int(ptr.Deref(j.Spec.Completions, 0)) {
		return newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonFailedIndexes, msgFailedIndexes, now)
	}
	return nil
}
