package batch

import (
	"context"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/batch"
	printers "github.com/skiffhq/skiff/pkg/api/printers/batch"
	validation "github.com/skiffhq/skiff/pkg/api/validation/batch"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(jobs) }

// jobs are pods run to completion. As upstream's strategy does, a job without
// a manual selector gets one generated from its uid on create, and any change
// to its spec moves metadata.generation. Updates need not name a
// resourceVersion.
func jobs(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("Job"), "jobs", "job", true,
		func() runtime.Object { return &batchv1.Job{} }, func() runtime.Object { return &batchv1.JobList{} },
		printers.Job())
	r.Categories = []string{"all"}
	r.Status = true
	// batch/v1 Jobs orphan their pods when a delete names no policy, as
	// upstream keeps them for compatibility (kubectl names Background).
	r.OrphanByDefault = true
	r.PrepareForCreate = func(obj runtime.Object) {
		j := obj.(*batchv1.Job)
		j.Spec.Scheduling = nil // WorkloadWithJob is alpha and off in 1.37
		if !ptr.Deref(j.Spec.ManualSelector, false) {
			generateSelector(j)
		}
	}
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		if j := obj.(*batchv1.Job); old.(*batchv1.Job).Spec.Scheduling == nil {
			j.Spec.Scheduling = nil
		}
		return nil
	}
	r.Default = func(obj runtime.Object) { defaults.Job(obj.(*batchv1.Job)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateJob(obj.(*batchv1.Job)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateJobUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateJobStatusUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
	}
	r.SpecChanged = func(obj, old runtime.Object) bool {
		return !equality.Semantic.DeepEqual(obj.(*batchv1.Job).Spec, old.(*batchv1.Job).Spec)
	}
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
	}
	return r
}

// generateSelector selects the job's pods by its uid, which no other object
// shares, and labels its template with the uid and the job's name (the
// friendlier of the two), under both the batch.kubernetes.io names and the
// older unprefixed ones. Labels the client set are left alone: if they say
// otherwise, validation refuses the job.
func generateSelector(j *batchv1.Job) {
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	uid := string(j.UID)
	for key, value := range map[string]string{
		validation.LegacyJobNameLabel: j.Name, batchv1.JobNameLabel: j.Name,
		validation.LegacyControllerUIDLabel: uid, batchv1.ControllerUidLabel: uid,
	} {
		if _, set := j.Spec.Template.Labels[key]; !set {
			j.Spec.Template.Labels[key] = value
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, set := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !set {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = uid
	}
}
