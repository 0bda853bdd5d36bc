package batch

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// CronJob prints NAME, SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE,
// AGE and, with -o wide, the job template's containers, images and selector.
//
// Upstream types SUSPEND "boolean" while sending "True" or "False" as text;
// it is typed "string" here, which is what its cells are (kubectl prints both
// alike).
func CronJob() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Schedule", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]},
		{Name: "Timezone", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]},
		{Name: "Suspend", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]},
		{Name: "Active", Type: "integer", Description: batchv1.CronJobStatus{}.SwaggerDoc()["active"]},
		{Name: "Last Schedule", Type: "string", Description: batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]},
		printers.AgeColumn(),
		containersColumn(), imagesColumn(),
		{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
	}, cronJobCells)
}

func cronJobCells(cj *batchv1.CronJob, now time.Time) []interface{} {
	last := "<none>"
	if t := cj.Status.LastScheduleTime; t != nil && !t.IsZero() {
		last = duration.HumanDuration(now.Sub(t.Time))
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	suspend := "<unset>"
	if s := cj.Spec.Suspend; s != nil {
		suspend = map[bool]string{true: "True", false: "False"}[*s]
	}
	job := &cj.Spec.JobTemplate.Spec
	names, images := containerCells(job.Template.Spec.Containers)
	return []interface{}{
		cj.Name, cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last, printers.Age(cj.ObjectMeta, now),
		names, images, metav1.FormatLabelSelector(job.Selector),
	}
}
