package cronjob

import (
	"context"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// sync brings one CronJob up to date: it prunes its finished Jobs past the
// history limits, settles status.active against its Jobs, starts the Job for
// a scheduled time that is due, writes the status when it changed, and queues
// the CronJob again for just after its next scheduled time.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key this controller queued
	}
	cached, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.latest(key, nil)
		return nil
	}
	if err != nil {
		return err
	}
	cj := c.latest(key, cached).DeepCopy()
	jobs := c.jobsOf(cj)

	if err := c.pruneHistory(ctx, cj, jobs); err != nil {
		return err
	}
	if err := c.refreshIfStale(ctx, cj, jobs); err != nil {
		return err
	}
	before := cj.Status.DeepCopy()
	wake, syncErr := c.reconcile(ctx, cj, jobs)
	if !equalStatus(before, &cj.Status) {
		replaced := cj.ResourceVersion
		updated, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("updating the status of cron job %q in namespace %q: %w", name, ns, err)
		}
		c.remember(key, replaced, updated)
	}
	if syncErr != nil {
		return syncErr
	}
	if wake > 0 {
		c.queue.AddAfter(key, wake)
	}
	return nil
}

// reconcile settles cj's status against its Jobs and starts the Job that is
// due, if any. It returns how long until the CronJob should be looked at
// again (0: only when something changes).
func (c *Controller) reconcile(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (time.Duration, error) {
	children := make(map[types.UID]bool, len(jobs))
	for _, j := range jobs {
		children[j.UID] = true
		active := inActive(cj, j.UID)
		cond, finished := finishedCondition(j)
		if !finished {
			if !active {
				// Crashed between creating it and writing the status, or made by
				// hand (kubectl create job --from): it is not adopted.
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
			}
			continue
		}
		if active {
			removeActive(cj, j.UID)
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, cond)
		}
		if done := j.Status.CompletionTime; cond == batchv1.JobComplete && done != nil {
			if last := cj.Status.LastSuccessfulTime; last == nil || done.After(last.Time) {
				cj.Status.LastSuccessfulTime = done.DeepCopy()
			}
		}
	}
	for _, ref := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
		if children[ref.UID] {
			continue
		}
		// The cache may simply be behind: ask the API before letting it go.
		_, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			removeActive(cj, ref.UID)
		case err != nil:
			return 0, err
		}
	}
	if cj.DeletionTimestamp != nil {
		return 0, nil
	}
	return c.startDue(ctx, cj)
}

// refreshIfStale reads the CronJob from the API when the cache shows one of
// its running Jobs missing from status.active: the status written with that
// Job may not have reached the cache yet.
func (c *Controller) refreshIfStale(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	for _, j := range jobs {
		if _, finished := finishedCondition(j); finished || inActive(cj, j.UID) {
			continue
		}
		fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading cron job %q in namespace %q: %w", cj.Name, cj.Namespace, err)
		}
		if fresh.UID == cj.UID {
			*cj = *fresh
		}
		return nil
	}
	return nil
}

// startDue starts the Job for the latest scheduled time that is due, as the
// CronJob's policies allow, and returns how long until its next time.
func (c *Controller) startDue(ctx context.Context, cj *batchv1.CronJob) (time.Duration, error) {
	loc, err := location(cj)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *cj.Spec.TimeZone, err)
		return 0, nil
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return 0, nil // unsuspending it is an update, which syncs it
	}
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule", "CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
	}
	s, err := parseSchedule(cj, loc)
	if err != nil {
		// A user's mistake: nothing happens until the schedule is fixed.
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return 0, nil
	}
	now := c.clock.Now()
	wake := nextWake(s, now)

	var notBefore *time.Time
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		t := now.Add(-time.Duration(*d) * time.Second)
		notBefore = &t
	}
	due, err := unmetTimes(cj, s, now, notBefore)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return 0, nil
	}
	if due.many {
		c.recorder.Event(cj, corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
		c.log.Info("too many missed start times", "cronjob", cj.Namespace+"/"+cj.Name)
	}
	if due.latest.IsZero() {
		if notBefore != nil {
			// Was a time missed past the deadline? Say so: nothing else will.
			if late, err := unmetTimes(cj, s, now, nil); err == nil && !late.latest.IsZero() {
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", late.latest.UTC().Format(time.RFC1123Z))
			}
		}
		return wake, nil
	}
	name := jobName(cj, due.latest)
	if activeByName(cj, name) || (cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(due.latest)) {
		return wake, nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(cj.Status.Active) > 0 {
			c.recorder.Event(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return wake, nil
		}
	case batchv1.ReplaceConcurrent:
		if err := c.replaceActive(ctx, cj); err != nil {
			return 0, err
		}
	}

	job, err := newJob(cj, due.latest)
	if err != nil {
		return 0, err
	}
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		// Made before, by this controller before its status write was lost,
		// or by someone else, who then keeps the status.
		existing, err := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		if !metav1.IsControlledBy(existing, cj) || inActive(cj, existing.UID) {
			return wake, nil
		}
		created = existing
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return 0, err
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return 0, err
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
		c.log.Debug("created job", "cronjob", cj.Namespace+"/"+cj.Name, "job", created.Name, "scheduled", due.latest)
	}
	cj.Status.Active = append(cj.Status.Active, jobRef(created))
	cj.Status.LastScheduleTime = &metav1.Time{Time: due.latest}
	return wake, nil
}

// replaceActive deletes the CronJob's running Jobs to make room for the next.
func (c *Controller) replaceActive(ctx context.Context, cj *batchv1.CronJob) error {
	for _, ref := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
		job, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			removeActive(cj, ref.UID)
			continue
		case err != nil:
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedGet", "Get job: %v", err)
			return err
		}
		if err := c.deleteJob(ctx, cj, job); err != nil {
			return fmt.Errorf("replacing job %q in namespace %q: %w", job.Name, job.Namespace, err)
		}
		removeActive(cj, ref.UID)
	}
	return nil
}

// deleteJob deletes one of cj's Jobs; the garbage collector takes its pods.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, job *batchv1.Job) error {
	background := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &background,
		Preconditions:     &metav1.Preconditions{UID: &job.UID},
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil // gone already
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return err
	}
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", job.Name)
	return nil
}

func inActive(cj *batchv1.CronJob, uid types.UID) bool {
	for _, ref := range cj.Status.Active {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

func activeByName(cj *batchv1.CronJob, name string) bool {
	for _, ref := range cj.Status.Active {
		if ref.Name == name && ref.Namespace == cj.Namespace {
			return true
		}
	}
	return false
}

func removeActive(cj *batchv1.CronJob, uid types.UID) {
	kept := cj.Status.Active[:0:0]
	for _, ref := range cj.Status.Active {
		if ref.UID != uid {
			kept = append(kept, ref)
		}
	}
	cj.Status.Active = kept
}

// finishedCondition is the condition that ended a Job, if one did.
func finishedCondition(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, cond := range j.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			return cond.Type, true
		}
	}
	return "", false
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{
		Kind:            "Job",
		APIVersion:      batchv1.SchemeGroupVersion.String(),
		Namespace:       j.Namespace,
		Name:            j.Name,
		UID:             j.UID,
		ResourceVersion: j.ResourceVersion,
	}
}

// equalStatus compares what sync may change, treating an empty active list
// and a missing one alike.
func equalStatus(a, b *batchv1.CronJobStatus) bool {
	if len(a.Active) != len(b.Active) {
		return false
	}
	for i := range a.Active {
		if a.Active[i] != b.Active[i] {
			return false
		}
	}
	return timesEqual(a.LastScheduleTime, b.LastScheduleTime) && timesEqual(a.LastSuccessfulTime, b.LastSuccessfulTime)
}

func timesEqual(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Time.Equal(b.Time)
}
