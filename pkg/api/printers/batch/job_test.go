package batch

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestJob(t *testing.T) {
	printerstest.ExpectColumns(t, Job(), []string{"Name", "Status", "Completions", "Duration", "Age", "Containers*", "Images*", "Selector*"})
	printerstest.CheckRows(t, Job(), &batchv1.Job{})

	job := func(mutate func(*batchv1.Job)) *batchv1.Job {
		j := &batchv1.Job{
			ObjectMeta: printerstest.ObjectMeta("hello", 10*time.Minute),
			Spec: batchv1.JobSpec{
				Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "u1"}},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "hello", Image: "busybox"}, {Name: "log", Image: "fluentd:1"},
				}}},
			},
		}
		mutate(j)
		return j
	}
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []interface{}
	}{
		{"not started", func(*batchv1.Job) {}, []interface{}{"Running", "0/1", ""}},
		{"running", func(j *batchv1.Job) { j.Status.StartTime = ptr.To(printerstest.Ago(90 * time.Second)) },
			[]interface{}{"Running", "0/1", "90s"}},
		{"complete", func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{Succeeded: 1, StartTime: ptr.To(printerstest.Ago(9 * time.Minute)), CompletionTime: ptr.To(printerstest.Ago(8 * time.Minute)),
				Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}, {Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
		}, []interface{}{"Complete", "1/1", "60s"}},
		{"failed", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue}, {Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
		}, []interface{}{"Failed", "0/1", ""}},
		{"being deleted", func(j *batchv1.Job) { j.DeletionTimestamp = ptr.To(printerstest.Ago(0)) }, []interface{}{"Terminating", "0/1", ""}},
		{"suspended", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}
		}, []interface{}{"Suspended", "0/1", ""}},
		{"resumed", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse}}
		}, []interface{}{"Running", "0/1", ""}},
		{"work queue", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](3) }, []interface{}{"Running", "0/1 of 3", ""}},
		{"one worker, no completions", func(j *batchv1.Job) { j.Spec.Completions = nil }, []interface{}{"Running", "0/1", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := append([]interface{}{"hello"}, tc.want...)
			want = append(want, "10m", "hello,log", "busybox,fluentd:1", "batch.kubernetes.io/controller-uid=u1")
			printerstest.AssertCells(t, Job(), job(tc.mutate), want)
		})
	}
}

func TestCronJob(t *testing.T) {
	printerstest.ExpectColumns(t, CronJob(), []string{"Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers*", "Images*", "Selector*"})
	printerstest.CheckRows(t, CronJob(), &batchv1.CronJob{})

	cj := &batchv1.CronJob{
		ObjectMeta: printerstest.ObjectMeta("tick", 3*time.Hour),
		Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *", Suspend: ptr.To(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "tick", Image: "busybox"}},
			}}}},
		},
	}
	printerstest.AssertCells(t, CronJob(), cj, []interface{}{"tick", "*/1 * * * *", "<none>", "False", int64(0), "<none>", "3h", "tick", "busybox", "<none>"})
	cj.Spec.TimeZone, cj.Spec.Suspend = ptr.To("Europe/Berlin"), ptr.To(true)
	cj.Status = batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "tick-1"}, {Name: "tick-2"}}, LastScheduleTime: ptr.To(printerstest.Ago(45 * time.Second))}
	printerstest.AssertCells(t, CronJob(), cj, []interface{}{"tick", "*/1 * * * *", "Europe/Berlin", "True", int64(2), "45s", "3h", "tick", "busybox", "<none>"})
	cj.Spec.Suspend = nil
	if cells := CronJob().Cells(cj, printerstest.Now); cells[3] != "<unset>" {
		t.Errorf("suspend unset: %v", cells[3])
	}
}
