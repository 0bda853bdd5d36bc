package batch

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/batch"
)

// cronJob is what `kubectl create cronjob tick --image=busybox
// --schedule='*/1 * * * *'` sends, after defaulting, changed by mutate first.
func cronJob(mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Name: "tick"},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "tick", Image: "busybox"}},
				}}},
			},
		},
	}
	if mutate != nil {
		mutate(cj)
	}
	defaults.CronJob(cj)
	return cj
}

// TestValidateCronJobAsUpstream checks the whole message kubectl prints after
// `The CronJob "tick" is invalid: ` against upstream's (ValidateCronJobCreate).
func TestValidateCronJobAsUpstream(t *testing.T) {
	for _, schedule := range []string{"*/1 * * * *", "0 3 * * 1-5", "@hourly", "@every 90s", "30 4 1 JAN,JUL *"} {
		expectErrs(t, ValidateCronJob(cronJob(func(cj *batchv1.CronJob) { cj.Spec.Schedule = schedule })))
	}
	for _, tz := range []string{"Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"} {
		expectErrs(t, ValidateCronJob(cronJob(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To(tz) })))
	}
	long := strings.Repeat("t", 53)
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   string
	}{
		{"unparsable schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "not a schedule" },
			`spec.schedule: Invalid value: "not a schedule": expected exactly 5 fields, found 3: [not a schedule]`},
		{"six fields", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "0 */1 * * * *" },
			`spec.schedule: Invalid value: "0 */1 * * * *": expected exactly 5 fields, found 6: [0 */1 * * * *]`},
		{"minute out of range", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" },
			`spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`},
		{"unknown descriptor", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@fortnightly" },
			`spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly`},
		{"time zone in the schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" },
			`spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`},
		{"unknown time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus_Mons") },
			`spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons`},
		{"time zone that is no name", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("../etc/passwd") },
			`spec.timeZone: Invalid value: "../etc/passwd": unknown time zone ../etc/passwd`},
		{"local time", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Local") },
			`spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones`},
		{"empty time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("") },
			`spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string`},
		{"negative starting deadline", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](-1) },
			`spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0`},
		{"concurrency policy", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" },
			`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`},
		{"negative history", func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](-1) },
			`spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0`},
		{"long name", func(cj *batchv1.CronJob) { cj.Name = long },
			`metadata.name: Invalid value: "` + long + `": must be no more than 52 characters`},
		{"job template restarting forever", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		},
			`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`},
		{"job template with a selector", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "tick"}}
		}, "spec.jobTemplate.spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"tick\"}}: `selector` will be auto-generated"},
		{"job template with a manual selector", func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.ManualSelector = ptr.To(true) },
			`spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"`},
		{"job template with negative parallelism", func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.Parallelism = ptr.To[int32](-1) },
			`spec.jobTemplate.spec.parallelism: Invalid value: -1: must be greater than or equal to 0`},
		{"no schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }, `spec.schedule: Required value`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectMessage(t, ValidateCronJob(cronJob(tc.mutate)), tc.want) })
	}
}

// TestValidateCronJobUpdate: the spec may change; what an older server
// accepted (a long name, TZ in the schedule) may stay.
func TestValidateCronJobUpdate(t *testing.T) {
	old := cronJob(func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("t", 60); cj.Spec.Schedule = "TZ=UTC 0 * * * *" })
	old.ResourceVersion, old.UID = "7", uid
	cj := old.DeepCopy()
	cj.Spec.Suspend = ptr.To(true)
	cj.Spec.Schedule = "TZ=Europe/Berlin 0 * * * *"
	expectErrs(t, ValidateCronJobUpdate(cj, old))
	cj.Spec.TimeZone = ptr.To("UTC")
	expectErrs(t, ValidateCronJobUpdate(cj, old), invalid("spec.schedule", "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	cj = old.DeepCopy()
	cj.Spec.Schedule = "every minute"
	expectErrs(t, ValidateCronJobUpdate(cj, old), invalid("spec.schedule", "expected exactly 5 fields, found 2: [every minute]"))
	cj = old.DeepCopy()
	cj.Name = "other"
	expectErrs(t, ValidateCronJobUpdate(cj, old), invalid("metadata.name", "field is immutable"))
	expectErrs(t, ValidateCronJobStatusUpdate(old, old))
}

func TestParseSchedule(t *testing.T) {
	s, err := ParseSchedule("*/15 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := metav1.Date(2026, 1, 1, 10, 7, 0, 0, metav1.Now().Location()).Time
	if next := s.Next(from); next.Minute() != 15 || next.Hour() != 10 {
		t.Errorf("next run after %v: %v", from, next)
	}
	if _, err := ParseSchedule("TZ="); err == nil {
		t.Error("TZ= alone parsed")
	}
}
