package batch

import (
	"context"
	"reflect"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

// create runs a kind's create hooks in the API server's order, after it has
// set the uid: prepare, default, validate.
func create(t *testing.T, r *apiserver.Resource, obj runtime.Object) {
	t.Helper()
	r.PrepareForCreate(obj)
	r.Default(obj)
	if errs := r.Validate(obj); len(errs) > 0 {
		t.Fatalf("refused: %v", errs)
	}
}

func helloJob() *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: types.UID("u-1")},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "hello", Image: "busybox"}},
		}}},
	}
}

// TestJobGeneratedSelector: as upstream's strategy, a job gets a selector of
// its uid and its template the labels that selector and people look for,
// which the job takes as its own labels too.
func TestJobGeneratedSelector(t *testing.T) {
	r := jobs(kind.Options{})
	j := helloJob()
	j.Spec.Template.Labels = map[string]string{"app": "hello"}
	create(t, r, j)
	want := map[string]string{
		"app": "hello", "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "hello",
		"controller-uid": "u-1", "job-name": "hello",
	}
	if !reflect.DeepEqual(j.Spec.Template.Labels, want) {
		t.Errorf("template labels %v\nwant %v", j.Spec.Template.Labels, want)
	}
	if got := metav1.FormatLabelSelector(j.Spec.Selector); got != "batch.kubernetes.io/controller-uid=u-1" {
		t.Errorf("selector %s", got)
	}
	if !reflect.DeepEqual(j.Labels, want) {
		t.Errorf("job labels %v\nwant the template's", j.Labels)
	}

	// A manual selector is the client's business.
	manual := helloJob()
	manual.Spec.ManualSelector = ptr.To(true)
	manual.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hello"}}
	manual.Spec.Template.Labels = map[string]string{"app": "hello"}
	create(t, r, manual)
	if len(manual.Spec.Template.Labels) != 1 || len(manual.Spec.Selector.MatchLabels) != 1 {
		t.Errorf("manual selector changed: %v, %v", manual.Spec.Selector, manual.Spec.Template.Labels)
	}

	// Labels the client set to other values are kept, and refused.
	clash := helloJob()
	clash.Spec.Template.Labels = map[string]string{"job-name": "other"}
	r.PrepareForCreate(clash)
	r.Default(clash)
	if errs := r.Validate(clash); len(errs) != 1 || errs[0].Field != "spec.template.metadata.labels[job-name]" {
		t.Errorf("errors %v, want one about the job-name label", errs)
	}
}

// TestJobUpdate: generation moves with the spec alone; an update cannot
// bring in spec.scheduling, whose feature is off.
func TestJobUpdate(t *testing.T) {
	r := jobs(kind.Options{})
	stored := helloJob()
	create(t, r, stored)
	stored.ResourceVersion = "7"
	stored.Spec.Suspend = ptr.To(true)
	for _, tc := range []struct {
		name   string
		change func(*batchv1.Job)
		moves  bool
	}{
		{"labels of the job", func(j *batchv1.Job) { j.Labels["team"] = "a" }, false},
		{"a default left out", func(j *batchv1.Job) { j.Spec.BackoffLimit = nil }, false},
		{"resume", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(false) }, true},
		{"scheduling", func(j *batchv1.Job) { j.Spec.Scheduling = &batchv1.JobSchedulingConfiguration{} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := stored.DeepCopy()
			tc.change(j)
			if err := r.PrepareForUpdate(context.Background(), nil, j, stored); err != nil {
				t.Fatal(err)
			}
			r.Default(j)
			if got := r.SpecChanged(j, stored); got != tc.moves {
				t.Errorf("generation moves: %v, want %v", got, tc.moves)
			}
			if errs := r.ValidateUpdate(j, stored); len(errs) > 0 {
				t.Errorf("refused: %v", errs)
			}
		})
	}
	if got := r.Fields(&batchv1.Job{Status: batchv1.JobStatus{Succeeded: 3}}); got["status.successful"] != "3" {
		t.Errorf("fields %v", got)
	}
}

func TestCronJob(t *testing.T) {
	r := cronJobs(kind.Options{})
	if !reflect.DeepEqual(r.ShortNames, []string{"cj"}) || !reflect.DeepEqual(r.Categories, []string{"all"}) || !r.Status {
		t.Errorf("names %v, categories %v, status %v", r.ShortNames, r.Categories, r.Status)
	}
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "u-2"},
		Spec:       batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{Spec: helloJob().Spec}},
	}
	cj.Spec.JobTemplate.Spec.Scheduling = &batchv1.JobSchedulingConfiguration{}
	create(t, r, cj)
	if cj.Spec.JobTemplate.Spec.Scheduling != nil || cj.Spec.JobTemplate.Spec.Selector != nil {
		t.Errorf("job template: %+v", cj.Spec.JobTemplate.Spec)
	}
}
