package cronjob

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// newJob is the Job a CronJob starts for a scheduled time: its template,
// named for the time, with the time in the scheduled-timestamp annotation
// (in the CronJob's time zone, UTC when it names none, as upstream writes it)
// and the CronJob as its controller.
func newJob(cj *batchv1.CronJob, scheduled time.Time) (*batchv1.Job, error) {
	zone := "UTC"
	if cj.Spec.TimeZone != nil {
		zone = *cj.Spec.TimeZone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, err
	}
	tmpl := &cj.Spec.JobTemplate
	annotations := maps.Clone(tmpl.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)},
		},
	}
	tmpl.Spec.DeepCopyInto(&job.Spec)
	return job, nil
}

// pruneHistory deletes the oldest finished Jobs of each kind (succeeded,
// failed) past the CronJob's history limits. Jobs still running are never
// counted.
func (c *Controller) pruneHistory(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		if j.DeletionTimestamp != nil {
			continue // going already
		}
		switch cond, _ := finishedCondition(j); cond {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var errs []error
	for _, kind := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{succeeded, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if kind.limit == nil || len(kind.jobs) <= int(*kind.limit) {
			continue
		}
		slices.SortFunc(kind.jobs, byStartTime)
		for _, j := range kind.jobs[:len(kind.jobs)-int(*kind.limit)] {
			if err := c.deleteJob(ctx, cj, j); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// byStartTime orders Jobs oldest first; a Job that never started is the
// newest, and names break ties.
func byStartTime(a, b *batchv1.Job) int {
	switch sa, sb := a.Status.StartTime, b.Status.StartTime; {
	case sa == nil && sb != nil:
		return 1
	case sa != nil && sb == nil:
		return -1
	case sa != nil && !sa.Equal(sb):
		return sa.Time.Compare(sb.Time)
	}
	return strings.Compare(a.Name, b.Name)
}
