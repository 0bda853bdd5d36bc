package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// jobState is what one sync knows of a Job: the copy it will write back and
// what it counted of its pods.
type jobState struct {
	key  string
	job  *batchv1.Job
	pods []*corev1.Pod
	// active are the pods neither finished nor being deleted.
	active             []*corev1.Pod
	ready, terminating int32
	// removing are the pods whose finalizer removal is not yet seen: they
	// count as counted.
	removing sets.Set[types.UID]
	// uncountedSucceeded and uncountedFailed are status.uncountedTerminatedPods
	// as the sync found it.
	uncountedSucceeded, uncountedFailed sets.Set[types.UID]
	// succeeded and failed count the pods finished so far, whether counted in
	// status yet or not (failed: those the failure policy counts).
	succeeded, failed int32
	// completed are the succeeded indexes of an Indexed Job: those of
	// status.completedIndexes (prevCompleted) and of the succeeded pods.
	prevCompleted, completed intervals
	// With backoffLimitPerIndex: the failed indexes, and each pending
	// index's last failed pod (see perindex.go).
	failedIdx  intervals
	lastFailed map[int]*corev1.Pod
	// finished is the condition the Job is to finish with; nil while it runs.
	finished *batchv1.JobCondition
	backoff  backoffRecord
}

// sync brings one Job (namespace/name) a step closer to its spec and writes
// what it saw into its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	shared, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.Forget(key)
		c.backoff.forget(key)
		c.writes.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if managedElsewhere(shared) {
		return nil
	}
	if isFinished(shared) {
		c.backoff.forget(key)
		c.expect.Forget(key)
		return nil
	}
	if d := c.writes.pending(key, shared.UID, shared.ResourceVersion); d > 0 {
		// Our last status write is on its way: its event queues the Job.
		c.queue.AddAfter(key, d)
		return nil
	}
	if m := shared.Spec.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
		c.event(shared, corev1.EventTypeWarning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
		return nil
	}
	// Read before the pods: a pod created after this still counts next time.
	satisfied := c.expect.Satisfied(key)
	pods, err := c.claimPods(ctx, shared)
	if err != nil {
		return err
	}
	s := c.newJobState(key, shared.DeepCopy(), pods)
	j := s.job
	now := c.clock.Now()
	if j.Status.StartTime == nil && !suspended(j) {
		j.Status.StartTime = ptr.To(metav1.NewTime(now))
	}

	s.finished = c.finishedBy(s)
	active := int32(len(s.active))
	var manageErr error
	if s.finished != nil {
		// Failing: stop every pod; the Job is finished once they are gone.
		deleted, deletedReady, err := c.deletePods(ctx, s, s.active, true)
		if int(deleted) != len(s.active) || !satisfied {
			s.finished = nil // pods may remain that the cache does not show yet
		}
		active -= deleted
		s.terminating += deleted
		s.ready -= deletedReady
		manageErr = err
	} else {
		managed := false
		if satisfied && j.DeletionTimestamp == nil {
			active, manageErr = c.manage(ctx, s)
			managed = true
		}
		// Without completions, one success is enough once the rest ended.
		complete := active == 0 && s.succeeded > 0
		if want := j.Spec.Completions; want != nil {
			complete = active == 0 && s.succeeded >= *want
		}
		switch {
		case complete:
			s.finished = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue,
				batchv1.JobReasonCompletionsReached, msgCompletionsReached, now)
		case managed:
			c.noteSuspension(s, now)
		}
	}
	j.Status.Active = active
	j.Status.Ready = ptr.To(s.ready)
	j.Status.Terminating = ptr.To(s.terminating)
	if err := c.track(ctx, s, shared); err != nil {
		return fmt.Errorf("tracking the pods of job %q: %w", key, err)
	}
	return manageErr
}

func (c *Controller) newJobState(key string, j *batchv1.Job, pods []*corev1.Pod) *jobState {
	if j.Status.UncountedTerminatedPods == nil {
		j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	s := &jobState{
		key:                key,
		job:                j,
		pods:               pods,
		removing:           c.expect.finalizersPending(key),
		uncountedSucceeded: sets.New(j.Status.UncountedTerminatedPods.Succeeded...),
		uncountedFailed:    sets.New(j.Status.UncountedTerminatedPods.Failed...),
	}
	var newSucceeded, newFailed []*corev1.Pod
	for _, p := range s.pods {
		switch {
		case podActive(p):
			s.active = append(s.active, p)
			if podReady(p) {
				s.ready++
			}
		case podTerminating(p):
			s.terminating++
		}
		if !hasTrackingFinalizer(p) || s.removing.Has(p.UID) ||
			s.uncountedSucceeded.Has(p.UID) || s.uncountedFailed.Has(p.UID) {
			continue // counted already, or about to be
		}
		if p.Status.Phase == corev1.PodSucceeded {
			newSucceeded = append(newSucceeded, p)
		} else if podFailed(p, j) {
			newFailed = append(newFailed, p)
		}
	}
	s.succeeded = j.Status.Succeeded + int32(s.uncountedSucceeded.Len()+len(newSucceeded))
	s.failed = j.Status.Failed + int32(s.uncountedFailed.Len()+countedFailures(j, newFailed))
	if indexed(j) {
		completions := int(ptr.Deref(j.Spec.Completions, 0))
		s.prevCompleted = parseIntervals(j.Status.CompletedIndexes, completions)
		var idx []int
		for _, p := range s.pods {
			if ix, ok := completionIndex(p, completions); ok && p.Status.Phase == corev1.PodSucceeded && hasTrackingFinalizer(p) {
				idx = append(idx, ix)
			}
		}
		s.completed = s.prevCompleted.with(idx)
		s.succeeded = int32(s.completed.total())
		if perIndex(j) {
			s.failedIdx = failedIndexes(j, s.pods, completions)
			s.lastFailed = lastFailedPerIndex(s, completions)
		}
	}
	s.backoff = c.backoff.next(key, newSucceeded, newFailed)
	return s
}

// finishedBy is the condition the Job is to finish with, in upstream's order:
// one it already has (SuccessCriteriaMet, FailureTarget), the pod failure
// policy, the backoff limit, the deadline, the success policy. It queues the
// Job for when its deadline comes.
func (c *Controller) finishedBy(s *jobState) *batchv1.JobCondition {
	j, now := s.job, c.clock.Now()
	if cond := conditionTrue(j.Status.Conditions, batchv1.JobSuccessCriteriaMet); cond != nil {
		return newCondition(cond.Type, cond.Status, cond.Reason, cond.Message, now)
	}
	if cond := conditionTrue(j.Status.Conditions, batchv1.JobFailureTarget); cond != nil {
		return newCondition(cond.Type, cond.Status, cond.Reason, cond.Message, now)
	}
	if msg := failJobMessage(j, s.pods); msg != nil {
		return newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonPodFailurePolicy, *msg, now)
	}
	if s.failed > ptr.Deref(j.Spec.BackoffLimit, 6) || pastBackoffLimitOnFailure(j, s.pods) {
		return newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit, now)
	}
	if ads := j.Spec.ActiveDeadlineSeconds; ads != nil && j.Status.StartTime != nil && !suspended(j) {
		left := time.Duration(*ads)*time.Second - now.Sub(j.Status.StartTime.Time)
		if left <= 0 {
			return newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonDeadlineExceeded, msgDeadline, now)
		}
		c.queue.AddAfter(s.key, left)
	}
	if perIndex(j) {
		if cond := perIndexFailure(s, now); cond != nil {
			return cond
		}
	}
	if indexed(j) && j.Spec.Completions != nil {
		if msg, met := matchSuccessPolicy(j.Spec.SuccessPolicy, *j.Spec.Completions, s.completed); met {
			return newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonSuccessPolicy, msg, now)
		}
	}
	return nil
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure failures are
// container restarts, counted against backoffLimit.
func pastBackoffLimitOnFailure(j *batchv1.Job, pods []*corev1.Pod) bool {
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, cs := range list {
				restarts += cs.RestartCount
			}
		}
	}
	limit := ptr.Deref(j.Spec.BackoffLimit, 6)
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

// noteSuspension sets the Suspended condition after a sync that managed the
// pods, and restarts the clock of activeDeadlineSeconds on resume (it counts
// the time a Job is continuously active).
func (c *Controller) noteSuspension(s *jobState, now time.Time) {
	j := s.job
	var changed bool
	if suspended(j) {
		j.Status.Conditions, changed = ensureCondition(j.Status.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
		if changed {
			c.event(j, corev1.EventTypeNormal, "Suspended", "Job suspended")
		}
		return
	}
	j.Status.Conditions, changed = ensureCondition(j.Status.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
	if changed {
		c.event(j, corev1.EventTypeNormal, "Resumed", "Job resumed")
		j.Status.StartTime = ptr.To(metav1.NewTime(now))
	}
}

// syncOrphanPod removes the tracking finalizer of a pod (namespace/name) that
// no running Job counts any more.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	obj, exists, err := c.pods.GetByKey(key)
	if err != nil || !exists {
		return err
	}
	pod := obj.(*corev1.Pod)
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if j := c.resolveControllerRef(pod.Namespace, ref); j != nil && !isFinished(j) {
			return nil // its Job counts it and removes the finalizer
		}
	}
	return c.patchFinalizerAway(ctx, pod)
}

func (c *Controller) event(j *batchv1.Job, kind, reason, message string) {
	if c.recorder != nil {
		c.recorder.Event(j, kind, reason, message)
	}
}
