package batch

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var statusPath = field.NewPath("status")

// ValidateJobStatusUpdate validates a write to jobs/status. Since a job may be
// managed by a controller other than Kubernetes' own (spec.managedBy), the
// status must tell a consistent story: counters that only grow, terminal
// conditions that stay, a finished job with a start and no pods. Each rule is
// checked only when a field it reads changes, so that a status made
// inconsistent by a spec change can still be written back.
func ValidateJobStatusUpdate(job, old *batchv1.Job) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&job.ObjectMeta, &old.ObjectMeta, metadataPath)
	opts := statusOptionsFor(job, old)
	errs = append(errs, validateJobStatus(job, opts)...)
	s, o := &job.Status, &old.Status
	conditions := statusPath.Child("conditions")
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if conditionTrue(o.Conditions, t) && !conditionTrue(s.Conditions, t) {
			errs = append(errs, field.Invalid(conditions, field.OmitValueType{}, fmt.Sprintf("cannot disable the terminal %s=True condition", t)))
		}
	}
	if s.Failed < o.Failed {
		errs = append(errs, field.Invalid(statusPath.Child("failed"), s.Failed, "cannot decrease the failed counter"))
	}
	if opts.rejectDecreasingSucceeded && s.Succeeded < o.Succeeded {
		errs = append(errs, field.Invalid(statusPath.Child("succeeded"), s.Succeeded, "cannot decrease the succeeded counter"))
	}
	if s.CompletionTime != nil && o.CompletionTime != nil && !ptr.Equal(s.CompletionTime, o.CompletionTime) {
		errs = append(errs, field.Invalid(statusPath.Child("completionTime"), s.CompletionTime, "field is immutable"))
	}
	if opts.startTimeChanged && !opts.resuming && o.StartTime != nil && !ptr.Deref(job.Spec.Suspend, false) {
		errs = append(errs, field.Invalid(statusPath.Child("startTime"), s.StartTime, "field is immutable for unsuspended job once set"))
	}
	if conditionTrue(o.Conditions, batchv1.JobSuccessCriteriaMet) && !conditionTrue(s.Conditions, batchv1.JobSuccessCriteriaMet) {
		errs = append(errs, field.Invalid(conditions, field.OmitValueType{}, "cannot disable the SuccessCriteriaMet=True condition"))
	}
	if conditionTrue(o.Conditions, batchv1.JobComplete) && !conditionTrue(o.Conditions, batchv1.JobSuccessCriteriaMet) &&
		conditionTrue(s.Conditions, batchv1.JobSuccessCriteriaMet) {
		errs = append(errs, field.Invalid(conditions, field.OmitValueType{}, "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions"))
	}
	return errs
}

// statusOptions says which of the status rules apply to an update: those
// whose fields changed (upstream's getStatusValidationOptions with JobManagedBy,
// GA since 1.35).
type statusOptions struct {
	rejectDecreasingSucceeded bool // unless an indexed job scales down
	finishedChanged           bool
	completeChanged           bool
	failedChanged             bool
	failureTargetChanged      bool
	successCriteriaChanged    bool
	completedIndexesChanged   bool
	failedIndexesChanged      bool
	activeChanged             bool
	startTimeChanged          bool
	completionTimeChanged     bool
	uncountedChanged          bool
	readyChanged              bool
	terminatingChanged        bool
	// suspendedEmpty is a suspended job with no completions, which finishes
	// without ever starting.
	suspendedEmpty bool
	// resuming is the controller recording that a suspended job resumed
	// (Suspended True to False), when it may set a new start time.
	resuming bool
}

func statusOptionsFor(job, old *batchv1.Job) statusOptions {
	s, o := &job.Status, &old.Status
	changed := func(t batchv1.JobConditionType) bool {
		return conditionTrue(o.Conditions, t) != conditionTrue(s.Conditions, t)
	}
	indexed := ptr.Deref(job.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	return statusOptions{
		rejectDecreasingSucceeded: !indexed || !ptr.Equal(job.Spec.Completions, job.Spec.Parallelism),
		finishedChanged:           jobFinished(old) != jobFinished(job),
		completeChanged:           changed(batchv1.JobComplete),
		failedChanged:             changed(batchv1.JobFailed),
		failureTargetChanged:      changed(batchv1.JobFailureTarget),
		successCriteriaChanged:    changed(batchv1.JobSuccessCriteriaMet),
		completedIndexesChanged:   o.CompletedIndexes != s.CompletedIndexes,
		failedIndexesChanged:      !ptr.Equal(o.FailedIndexes, s.FailedIndexes),
		activeChanged:             o.Active != s.Active,
		startTimeChanged:          !ptr.Equal(o.StartTime, s.StartTime),
		completionTimeChanged:     !ptr.Equal(o.CompletionTime, s.CompletionTime),
		uncountedChanged:          !apiequality.Semantic.DeepEqual(o.UncountedTerminatedPods, s.UncountedTerminatedPods),
		readyChanged:              !ptr.Equal(o.Ready, s.Ready),
		terminatingChanged:        !ptr.Equal(o.Terminating, s.Terminating),
		suspendedEmpty:            ptr.Deref(job.Spec.Suspend, false) && ptr.Equal(job.Spec.Completions, ptr.To[int32](0)),
		resuming: conditionTrue(o.Conditions, batchv1.JobSuspended) &&
			conditionIs(s.Conditions, batchv1.JobSuspended, corev1.ConditionFalse),
	}
}

// validateJobStatus checks a job's status on its own: counters, the pods not
// yet counted, and the rules opts says apply.
func validateJobStatus(job *batchv1.Job, opts statusOptions) field.ErrorList {
	s := &job.Status
	var errs field.ErrorList
	nonnegative := func(v int32, name string) {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(v), statusPath.Child(name))...)
	}
	nonnegative(s.Active, "active")
	nonnegative(s.Succeeded, "succeeded")
	nonnegative(s.Failed, "failed")
	if s.Ready != nil {
		nonnegative(*s.Ready, "ready")
	}
	if s.Terminating != nil {
		nonnegative(*s.Terminating, "terminating")
	}
	if s.UncountedTerminatedPods != nil {
		errs = append(errs, validateUncounted(s.UncountedTerminatedPods, statusPath.Child("uncountedTerminatedPods"))...)
	}
	errs = append(errs, validateOutcome(job, opts)...)
	errs = append(errs, validateFinished(job, opts)...)
	errs = append(errs, validateStatusIndexes(job, opts)...)
	if (opts.finishedChanged || opts.terminatingChanged) && jobFinished(job) && s.Terminating != nil && *s.Terminating > 0 {
		errs = append(errs, field.Invalid(statusPath.Child("terminating"), s.Terminating, "terminating>0 is invalid for finished job"))
	}
	if (opts.readyChanged || opts.activeChanged) && s.Ready != nil && *s.Ready > s.Active {
		errs = append(errs, field.Invalid(statusPath.Child("ready"), *s.Ready, "cannot set more ready pods than active"))
	}
	return append(errs, validateSuccessCriteria(job)...)
}

// validateUncounted: every pod is counted once, by a uid.
func validateUncounted(u *batchv1.UncountedTerminatedPods, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[types.UID]()
	check := func(uids []types.UID, p *field.Path) {
		for i, uid := range uids {
			switch {
			case uid == "":
				errs = append(errs, field.Invalid(p.Index(i), uid, "must not be empty"))
			case seen.Has(uid):
				errs = append(errs, field.Duplicate(p.Index(i), uid))
			default:
				seen.Insert(uid)
			}
		}
	}
	check(u.Succeeded, fldPath.Child("succeeded"))
	check(u.Failed, fldPath.Child("failed"))
	return errs
}

// validateOutcome: the conditions and the completion time describe one
// outcome.
func validateOutcome(job *batchv1.Job, opts statusOptions) field.ErrorList {
	s := &job.Status
	var errs field.ErrorList
	conflict := func(msg string) {
		errs = append(errs, field.Invalid(statusPath.Child("conditions"), field.OmitValueType{}, msg))
	}
	complete, failed := conditionTrue(s.Conditions, batchv1.JobComplete), conditionTrue(s.Conditions, batchv1.JobFailed)
	failureTarget := conditionTrue(s.Conditions, batchv1.JobFailureTarget)
	if (opts.completeChanged || opts.failedChanged) && complete && failed {
		conflict("cannot set Complete=True and Failed=true conditions")
	}
	if (opts.completeChanged || opts.failureTargetChanged) && complete && failureTarget {
		conflict("cannot set Complete=True and FailureTarget=true conditions")
	}
	timesChanged := opts.completeChanged || opts.completionTimeChanged
	if timesChanged && s.CompletionTime != nil && !complete {
		errs = append(errs, field.Invalid(statusPath.Child("completionTime"), s.CompletionTime, "cannot set completionTime when there is no Complete=True condition"))
	}
	if timesChanged && s.CompletionTime == nil && complete {
		errs = append(errs, field.Required(statusPath.Child("completionTime"), "completionTime is required for Complete jobs"))
	}
	if (opts.startTimeChanged || opts.completionTimeChanged) && s.StartTime != nil && s.CompletionTime != nil &&
		s.CompletionTime.Before(s.StartTime) {
		errs = append(errs, field.Invalid(statusPath.Child("completionTime"), s.CompletionTime, "must be equal to or after `startTime`"))
	}
	if (opts.failedChanged || opts.failedIndexesChanged) && failed && !failureTarget {
		conflict("cannot set Failed=True condition without the FailureTarget=true condition")
	}
	if (opts.completeChanged || opts.successCriteriaChanged) && complete && !conditionTrue(s.Conditions, batchv1.JobSuccessCriteriaMet) {
		conflict("cannot set Complete=True condition without the SuccessCriteriaMet=true condition")
	}
	return errs
}

// validateSuccessCriteria: a job that met its success criteria has not failed,
// and a job with a success policy completes only by meeting it. These hold
// whatever changed.
func validateSuccessCriteria(job *batchv1.Job) field.ErrorList {
	s := &job.Status
	met := conditionTrue(s.Conditions, batchv1.JobSuccessCriteriaMet)
	var msgs []string
	if met && conditionTrue(s.Conditions, batchv1.JobFailed) {
		msgs = append(msgs, "cannot set SuccessCriteriaMet=True and Failed=true conditions")
	}
	if met && conditionTrue(s.Conditions, batchv1.JobFailureTarget) {
		msgs = append(msgs, "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions")
	}
	if job.Spec.SuccessPolicy != nil && !met && conditionTrue(s.Conditions, batchv1.JobComplete) {
		msgs = append(msgs, "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True")
	}
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(statusPath.Child("conditions"), field.OmitValueType{}, msg))
	}
	return errs
}

// validateFinished: a finished job has started and has no pods left to run
// or count (nor, checked after the indexes, to stop).
func validateFinished(job *batchv1.Job, opts statusOptions) field.ErrorList {
	if !jobFinished(job) {
		return nil
	}
	s := &job.Status
	var errs field.ErrorList
	if (opts.finishedChanged || opts.activeChanged) && s.Active > 0 {
		errs = append(errs, field.Invalid(statusPath.Child("active"), s.Active, "active>0 is invalid for finished job"))
	}
	if (opts.finishedChanged || opts.startTimeChanged) && !opts.suspendedEmpty && s.StartTime == nil {
		errs = append(errs, field.Required(statusPath.Child("startTime"), "startTime is required for finished job"))
	}
	if u := s.UncountedTerminatedPods; (opts.finishedChanged || opts.uncountedChanged) && u != nil && len(u.Failed)+len(u.Succeeded) > 0 {
		errs = append(errs, field.Invalid(statusPath.Child("uncountedTerminatedPods"), u, "must be empty for finished job"))
	}
	return errs
}

// validateStatusIndexes: completed and failed indexes are well formed, below
// completions, apart, and used only by the jobs that have them.
func validateStatusIndexes(job *batchv1.Job, opts statusOptions) field.ErrorList {
	s, spec := &job.Status, &job.Spec
	var errs field.ErrorList
	if opts.completedIndexesChanged && spec.Completions != nil {
		if _, err := countIndexes(s.CompletedIndexes, *spec.Completions); err != nil {
			errs = append(errs, field.Invalid(statusPath.Child("completedIndexes"), s.CompletedIndexes, fmt.Sprintf("error parsing completedIndexes: %s", err)))
		}
	}
	if opts.failedIndexesChanged && spec.Completions != nil && spec.BackoffLimitPerIndex != nil && s.FailedIndexes != nil {
		if _, err := countIndexes(*s.FailedIndexes, *spec.Completions); err != nil {
			errs = append(errs, field.Invalid(statusPath.Child("failedIndexes"), s.FailedIndexes, fmt.Sprintf("error parsing failedIndexes: %s", err)))
		}
	}
	indexed := ptr.Deref(spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	if opts.completedIndexesChanged && s.CompletedIndexes != "" && !indexed {
		errs = append(errs, field.Invalid(statusPath.Child("completedIndexes"), s.CompletedIndexes, "cannot set non-empty completedIndexes when non-indexed completion mode"))
	}
	if opts.failedIndexesChanged && spec.BackoffLimitPerIndex == nil && s.FailedIndexes != nil {
		errs = append(errs, field.Invalid(statusPath.Child("failedIndexes"), *s.FailedIndexes, "cannot set non-null failedIndexes when backoffLimitPerIndex is null"))
	}
	if (opts.failedIndexesChanged || opts.completedIndexesChanged) && spec.Completions != nil && s.FailedIndexes != nil {
		if err := indexesOverlap(s.CompletedIndexes, *s.FailedIndexes, *spec.Completions); err != nil {
			errs = append(errs, field.Invalid(statusPath.Child("failedIndexes"), *s.FailedIndexes, err.Error()))
		}
	}
	return errs
}

func jobFinished(job *batchv1.Job) bool {
	return conditionTrue(job.Status.Conditions, batchv1.JobComplete) || conditionTrue(job.Status.Conditions, batchv1.JobFailed)
}

func conditionIs(conditions []batchv1.JobCondition, t batchv1.JobConditionType, status corev1.ConditionStatus) bool {
	for _, c := range conditions {
		if c.Type == t && c.Status == status {
			return true
		}
	}
	return false
}
