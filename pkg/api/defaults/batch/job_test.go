package batch

import (
	"math"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "hello", Image: "busybox"}},
	}}
}

// TestJob checks batch/v1's SetDefaults_Job for the shapes of job it tells apart.
func TestJob(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec batchv1.JobSpec
		want batchv1.JobSpec // the fields Job sets; the template is checked apart
	}{
		{"one pod to one success", batchv1.JobSpec{}, batchv1.JobSpec{
			Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false),
			PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed), ManualSelector: ptr.To(false),
		}},
		{"a work queue: parallelism alone", batchv1.JobSpec{Parallelism: ptr.To[int32](3)}, batchv1.JobSpec{
			Parallelism: ptr.To[int32](3), BackoffLimit: ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false),
			PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed), ManualSelector: ptr.To(false),
		}},
		{"indexed with a backoff limit per index, a failure policy, set by the client", batchv1.JobSpec{
			Completions: ptr.To[int32](5), CompletionMode: ptr.To(batchv1.IndexedCompletion), BackoffLimitPerIndex: ptr.To[int32](1),
			Suspend: ptr.To(true), ManualSelector: ptr.To(true),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
			}}},
		}, batchv1.JobSpec{
			Completions: ptr.To[int32](5), Parallelism: ptr.To[int32](1), BackoffLimit: ptr.To[int32](math.MaxInt32),
			BackoffLimitPerIndex: ptr.To[int32](1), CompletionMode: ptr.To(batchv1.IndexedCompletion), Suspend: ptr.To(true),
			PodReplacementPolicy: ptr.To(batchv1.Failed), ManualSelector: ptr.To(true),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:          batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
			}}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &batchv1.Job{Spec: tc.spec}
			j.Spec.Template = template()
			Job(j)
			got := j.Spec
			got.Template = corev1.PodTemplateSpec{}
			if !apiequality.Semantic.DeepEqual(got, tc.want) {
				t.Errorf("defaulted spec\n got: %+v\nwant: %+v", got, tc.want)
			}
			if j.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst || j.Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
				t.Errorf("pod template not defaulted: %+v", j.Spec.Template.Spec)
			}
			again := j.DeepCopy()
			Job(again)
			if !apiequality.Semantic.DeepEqual(again, j) {
				t.Error("defaulting twice changed the job")
			}
		})
	}
}

// TestJobLabels: a job without labels takes its template's, and keeps its own.
func TestJobLabels(t *testing.T) {
	j := &batchv1.Job{Spec: batchv1.JobSpec{Template: template()}}
	j.Spec.Template.Labels = map[string]string{"app": "hello"}
	Job(j)
	if j.Labels["app"] != "hello" {
		t.Errorf("labels %v", j.Labels)
	}
	j.Spec.Template.Labels["tier"] = "batch"
	if _, shared := j.Labels["tier"]; shared {
		t.Error("the job's labels are the template's map")
	}
	own := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "a"}}, Spec: batchv1.JobSpec{Template: template()}}
	own.Spec.Template.Labels = map[string]string{"app": "hello"}
	Job(own)
	if len(own.Labels) != 1 || own.Labels["team"] != "a" {
		t.Errorf("labels %v", own.Labels)
	}
}

// TestCronJob checks SetDefaults_CronJob, and that the job template gets the
// defaults of what is inside it and not the job-level ones.
func TestCronJob(t *testing.T) {
	cj := &batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template()}}}}
	CronJob(cj)
	want := batchv1.CronJobSpec{
		Schedule: "@hourly", ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptr.To(false),
		SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
	}
	got := cj.Spec
	got.JobTemplate = batchv1.JobTemplateSpec{}
	if !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("defaulted spec\n got: %+v\nwant: %+v", got, want)
	}
	if js := cj.Spec.JobTemplate.Spec; js.Parallelism != nil || js.BackoffLimit != nil || js.Template.Spec.SchedulerName != corev1.DefaultSchedulerName {
		t.Errorf("job template defaulted as a job, or its pod template not at all: %+v", js)
	}
}
