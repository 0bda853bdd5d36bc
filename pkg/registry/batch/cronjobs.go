package batch

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/batch"
	printers "github.com/skiffhq/skiff/pkg/api/printers/batch"
	validation "github.com/skiffhq/skiff/pkg/api/validation/batch"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(cronJobs) }

// cronJobs make jobs on a schedule. As upstream's strategy does, any change
// to the spec moves metadata.generation; updates need not name a
// resourceVersion.
func cronJobs(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("CronJob"), "cronjobs", "cronjob", true,
		func() runtime.Object { return &batchv1.CronJob{} }, func() runtime.Object { return &batchv1.CronJobList{} },
		printers.CronJob())
	r.ShortNames = []string{"cj"}
	r.Categories = []string{"all"}
	r.Status = true
	r.PrepareForCreate = func(obj runtime.Object) {
		obj.(*batchv1.CronJob).Spec.JobTemplate.Spec.Scheduling = nil // WorkloadWithJob is alpha and off in 1.37
	}
	r.PrepareForUpdate = func(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
		if cj := obj.(*batchv1.CronJob); old.(*batchv1.CronJob).Spec.JobTemplate.Spec.Scheduling == nil {
			cj.Spec.JobTemplate.Spec.Scheduling = nil
		}
		return nil
	}
	r.Default = func(obj runtime.Object) { defaults.CronJob(obj.(*batchv1.CronJob)) }
	r.Validate = func(obj runtime.Object) field.ErrorList { return validation.ValidateCronJob(obj.(*batchv1.CronJob)) }
	r.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateCronJobUpdate(obj.(*batchv1.CronJob), old.(*batchv1.CronJob))
	}
	r.ValidateStatusUpdate = func(obj, old runtime.Object) field.ErrorList {
		return validation.ValidateCronJobStatusUpdate(obj.(*batchv1.CronJob), old.(*batchv1.CronJob))
	}
	r.SpecChanged = func(obj, old runtime.Object) bool {
		return !equality.Semantic.DeepEqual(obj.(*batchv1.CronJob).Spec, old.(*batchv1.CronJob).Spec)
	}
	return r
}
