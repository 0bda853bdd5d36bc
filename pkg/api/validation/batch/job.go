package batch

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// The labels the API server puts on a job's pod template when it generates the
// job's selector, besides batchv1.JobNameLabel and batchv1.ControllerUidLabel:
// the unprefixed names older clients and controllers still look for.
const (
	LegacyJobNameLabel       = "job-name"
	LegacyControllerUIDLabel = "controller-uid"
)

// ValidateJobName is the name rule of a job and of a cron job.
var ValidateJobName validation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain

// Upstream's bounds on a job's spec. They keep status.completedIndexes and
// status.failedIndexes, which list indexes, within what an object may hold.
const (
	maxParallelismForIndexedJob             = 100_000
	maxFailedIndexesForIndexedJob           = 100_000
	completionsSoftLimit                    = 100_000
	parallelismLimitForHighCompletions      = 10_000
	maxFailedIndexesLimitForHighCompletions = 10_000
	maxManagedByLength                      = 63
)

var (
	metadataPath = field.NewPath("metadata")
	specPath     = field.NewPath("spec")
)

// ValidateJob validates a job being created: its metadata, the selector the
// API server generated (unless spec.manualSelector), and its spec.
func ValidateJob(job *batchv1.Job) field.ErrorList {
	errs := validation.ValidateObjectMeta(&job.ObjectMeta, true, ValidateJobName, metadataPath)
	errs = append(errs, validateGeneratedSelector(job, true)...)
	errs = append(errs, validateJobSpecWithSelector(&job.Spec, specPath, false)...)
	return append(errs, validateNameAllowsCompletions(job)...)
}

// ValidateJobUpdate validates an update of a job. Most of the spec is fixed
// once the job exists; the pod template may change only while the job is
// suspended and has never run (or was suspended and has no pods left), and
// then only its scheduling directives and container resources.
func ValidateJobUpdate(job, old *batchv1.Job) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&job.ObjectMeta, &old.ObjectMeta, metadataPath)
	errs = append(errs, validateJobSpecUpdate(&job.Spec, &old.Spec, specPath, updateOptionsFor(old))...)
	return append(errs, validateNameAllowsCompletions(job)...)
}

// updateOptions are what upstream's strategy derives from the stored job
// before validating an update (validationOptionsForJob), with Kubernetes
// 1.37's default feature gates.
type updateOptions struct {
	// allowInvalidSelectorValue keeps a job whose selector an older server
	// accepted updatable.
	allowInvalidSelectorValue bool
	// mutableTemplate lets a suspended job's scheduling directives and
	// container resources change (MutableSchedulingDirectivesForSuspendedJobs
	// and MutablePodResourcesForSuspendedJobs, beta and on).
	mutableTemplate bool
}

func updateOptionsFor(old *batchv1.Job) updateOptions {
	suspended := ptr.Deref(old.Spec.Suspend, false)
	notStarted := old.Status.StartTime == nil
	return updateOptions{
		allowInvalidSelectorValue: metav1validation.LabelSelectorHasInvalidLabelValue(old.Spec.Selector),
		mutableTemplate: suspended && (notStarted || conditionTrue(old.Status.Conditions, batchv1.JobSuspended)) &&
			old.Status.Active == 0,
	}
}

// validateGeneratedSelector checks what the API server generated for a job
// without a manual selector: the template carries the job's name and uid in
// the generated labels, and the selector selects them. A client that set
// those labels itself, to other values, gets an error here.
func validateGeneratedSelector(job *batchv1.Job, batchLabels bool) field.ErrorList {
	if ptr.Deref(job.Spec.ManualSelector, false) || job.Spec.Selector == nil {
		return nil // a missing selector is reported with the spec
	}
	var errs field.ErrorList
	if job.UID == "" {
		errs = append(errs, field.Required(metadataPath.Child("uid"), ""))
	}
	templatePath := specPath.Child("template", "metadata")
	want := map[string]string{LegacyControllerUIDLabel: string(job.UID), LegacyJobNameLabel: job.Name}
	errs = append(errs, hasLabel(job.Spec.Template.Labels, templatePath, LegacyControllerUIDLabel, string(job.UID))...)
	errs = append(errs, hasLabel(job.Spec.Template.Labels, templatePath, LegacyJobNameLabel, job.Name)...)
	if batchLabels {
		errs = append(errs, hasLabel(job.Spec.Template.Labels, templatePath, batchv1.ControllerUidLabel, string(job.UID))...)
		errs = append(errs, hasLabel(job.Spec.Template.Labels, templatePath, batchv1.JobNameLabel, job.Name)...)
		want[batchv1.ControllerUidLabel] = string(job.UID)
		want[batchv1.JobNameLabel] = job.Name
	}
	if selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector); err == nil && !selector.Matches(labels.Set(want)) {
		errs = append(errs, field.Invalid(specPath.Child("selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// hasLabel is upstream's ValidateHasLabel: the label must be there, with that value.
func hasLabel(have map[string]string, fldPath *field.Path, key, value string) field.ErrorList {
	got, ok := have[key]
	switch {
	case !ok:
		return field.ErrorList{field.Required(fldPath.Child("labels").Key(key), fmt.Sprintf("must be '%s'", value))}
	case got != value:
		return field.ErrorList{field.Invalid(fldPath.Child("labels").Key(key), have, fmt.Sprintf("must be '%s'", value))}
	}
	return nil
}

// validateNameAllowsCompletions: an indexed job's pods are named and hostnamed
// after the job with their index appended, which must stay a DNS label.
func validateNameAllowsCompletions(job *batchv1.Job) field.ErrorList {
	if ptr.Deref(job.Spec.CompletionMode, "") != batchv1.IndexedCompletion || ptr.Deref(job.Spec.Completions, 0) <= 0 {
		return nil
	}
	hostname := fmt.Sprintf("%s-%d", job.Name, *job.Spec.Completions-1)
	if len(utilvalidation.IsDNS1123Label(hostname)) > 0 {
		return field.ErrorList{field.Invalid(metadataPath.Child("name"), job.Name,
			fmt.Sprintf("will not able to create pod with invalid DNS label: %s", hostname))}
	}
	return nil
}

// validateJobSpecWithSelector validates the spec of a job: the rules every
// job spec follows, and a selector that is there, well formed, and selects
// the template's labels.
func validateJobSpecWithSelector(spec *batchv1.JobSpec, fldPath *field.Path, allowInvalidSelectorValue bool) field.ErrorList {
	errs := validateJobSpec(spec, fldPath)
	if spec.Selector == nil {
		errs = append(errs, field.Required(fldPath.Child("selector"), ""))
	} else {
		opts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: allowInvalidSelectorValue}
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, opts, fldPath.Child("selector"))...)
	}
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !selector.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateJobSpec holds the rules a job spec follows wherever it is, in a job
// or in a cron job's job template.
func validateJobSpec(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	nonnegative := func(v *int32, name string) {
		if v != nil {
			errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(int64(*v), fldPath.Child(name))...)
		}
	}
	nonnegative(spec.Parallelism, "parallelism")
	nonnegative(spec.Completions, "completions")
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, apimachineryvalidation.ValidateNonnegativeField(*spec.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	}
	nonnegative(spec.BackoffLimit, "backoffLimit")
	nonnegative(spec.TTLSecondsAfterFinished, "ttlSecondsAfterFinished")
	nonnegative(spec.BackoffLimitPerIndex, "backoffLimitPerIndex")
	if spec.MaxFailedIndexes != nil {
		nonnegative(spec.MaxFailedIndexes, "maxFailedIndexes")
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(fldPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if spec.ManagedBy != nil {
		errs = append(errs, utilvalidation.IsDomainPrefixedPath(fldPath.Child("managedBy"), *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(fldPath.Child("managedBy"), "", maxManagedByLength))
		}
	}
	errs = append(errs, validateCompletionMode(spec, fldPath)...)
	if spec.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(spec, fldPath.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil {
		if ptr.Deref(spec.CompletionMode, batchv1.NonIndexedCompletion) != batchv1.IndexedCompletion {
			errs = append(errs, field.Invalid(fldPath.Child("successPolicy"), *spec.SuccessPolicy, "requires indexed completion mode"))
		} else {
			errs = append(errs, validateSuccessPolicy(spec, fldPath.Child("successPolicy"))...)
		}
	}
	errs = append(errs, validatePodReplacementPolicy(spec, fldPath.Child("podReplacementPolicy"))...)
	errs = append(errs, validation.ValidatePodTemplateSpec(&spec.Template, fldPath.Child("template"))...)
	return append(errs, validateJobRestartPolicy(spec, fldPath.Child("template", "spec", "restartPolicy"))...)
}

// validateJobRestartPolicy: a job's pods run to an end. Pod defaulting turns
// an empty policy into Always, so both are reported as missing.
func validateJobRestartPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	supported := []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	switch policy := spec.Template.Spec.RestartPolicy; {
	case policy == corev1.RestartPolicyAlways || policy == "":
		return field.ErrorList{field.Required(fldPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever))}
	case policy != corev1.RestartPolicyOnFailure && policy != corev1.RestartPolicyNever:
		return field.ErrorList{field.NotSupported(fldPath, policy, supported)}
	case spec.PodFailurePolicy != nil && policy != corev1.RestartPolicyNever:
		return field.ErrorList{field.Invalid(fldPath, policy, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever))}
	}
	return nil
}

// validateCompletionMode checks the completion mode and the fields that only
// an indexed job may use, and the bounds an indexed job keeps.
func validateCompletionMode(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	indexed := batchv1.IndexedCompletion
	if spec.CompletionMode != nil {
		if *spec.CompletionMode != batchv1.NonIndexedCompletion && *spec.CompletionMode != indexed {
			errs = append(errs, field.NotSupported(fldPath.Child("completionMode"), spec.CompletionMode,
				[]batchv1.CompletionMode{batchv1.NonIndexedCompletion, indexed}))
		}
		if *spec.CompletionMode == indexed {
			errs = append(errs, validateIndexedBounds(spec, fldPath)...)
		}
	}
	if spec.CompletionMode == nil || *spec.CompletionMode == batchv1.NonIndexedCompletion {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(fldPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	return errs
}

func validateIndexedBounds(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	indexed := batchv1.IndexedCompletion
	if spec.Completions == nil {
		errs = append(errs, field.Required(fldPath.Child("completions"), fmt.Sprintf("when completion mode is %s", indexed)))
	}
	if spec.Parallelism != nil && *spec.Parallelism > maxParallelismForIndexedJob {
		errs = append(errs, field.Invalid(fldPath.Child("parallelism"), *spec.Parallelism,
			fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, indexed)))
	}
	if spec.Completions != nil && spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > *spec.Completions {
		errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "must be less than or equal to completions"))
	}
	if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > maxFailedIndexesForIndexedJob {
		errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes,
			fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
	}
	if spec.Completions == nil || *spec.Completions <= completionsSoftLimit || spec.BackoffLimitPerIndex == nil {
		return errs
	}
	// Many completions with a backoff limit per index: failed indexes must stay few.
	const high = "when completions are above %d and used with backoff limit per index"
	if spec.MaxFailedIndexes == nil {
		errs = append(errs, field.Required(fldPath.Child("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
	}
	if spec.Parallelism != nil && *spec.Parallelism > parallelismLimitForHighCompletions {
		errs = append(errs, field.Invalid(fldPath.Child("parallelism"), *spec.Parallelism,
			fmt.Sprintf("must be less than or equal to %d "+high, parallelismLimitForHighCompletions, completionsSoftLimit)))
	}
	if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > maxFailedIndexesLimitForHighCompletions {
		errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes,
			fmt.Sprintf("must be less than or equal to %d "+high, maxFailedIndexesLimitForHighCompletions, completionsSoftLimit)))
	}
	return errs
}

// validateJobSpecUpdate checks a job spec against the stored one: the whole
// spec again, then what may not change.
func validateJobSpecUpdate(spec, old *batchv1.JobSpec, fldPath *field.Path, opts updateOptions) field.ErrorList {
	errs := validateJobSpecWithSelector(spec, fldPath, opts.allowInvalidSelectorValue)
	errs = append(errs, validateCompletionsUpdate(spec, old, fldPath.Child("completions"))...)
	immutable := func(newVal, oldVal any, name string) {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(newVal, oldVal, fldPath.Child(name))...)
	}
	immutable(spec.Selector, old.Selector, "selector")
	errs = append(errs, validatePodTemplateUpdate(spec, old, fldPath, opts)...)
	immutable(spec.CompletionMode, old.CompletionMode, "completionMode")
	immutable(spec.PodFailurePolicy, old.PodFailurePolicy, "podFailurePolicy")
	immutable(spec.BackoffLimitPerIndex, old.BackoffLimitPerIndex, "backoffLimitPerIndex")
	immutable(spec.ManagedBy, old.ManagedBy, "managedBy")
	immutable(spec.SuccessPolicy, old.SuccessPolicy, "successPolicy")
	return errs
}

// validateCompletionsUpdate: completions are fixed, except that an indexed
// job scales by changing completions and parallelism together.
func validateCompletionsUpdate(spec, old *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	if ptr.Deref(spec.CompletionMode, "") != batchv1.IndexedCompletion {
		return apimachineryvalidation.ValidateImmutableField(spec.Completions, old.Completions, fldPath)
	}
	if ptr.Equal(spec.Completions, old.Completions) || spec.Completions == nil {
		return nil // an indexed job without completions is reported with the spec
	}
	if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		return field.ErrorList{field.Invalid(fldPath, spec.Completions,
			fmt.Sprintf("can only be modified in tandem with %s", fldPath.Root().Child("parallelism")))}
	}
	return nil
}

// validatePodTemplateUpdate: the template of a running job is fixed. While
// the job is suspended and may take changes (opts.mutableTemplate), its pods'
// node affinity, node selector, tolerations, scheduling gates, labels and
// annotations may change, and so may its containers' resources.
func validatePodTemplateUpdate(spec, old *batchv1.JobSpec, fldPath *field.Path, opts updateOptions) field.ErrorList {
	template, oldTemplate := &spec.Template, &old.Template
	if opts.mutableTemplate {
		oldTemplate = old.Template.DeepCopy()
		switch newAff, oldAff := template.Spec.Affinity, oldTemplate.Spec.Affinity; {
		case newAff == nil && oldAff != nil:
			// Clearing affinity is allowed if node affinity was all it held.
			oldAff.NodeAffinity = nil
			if *oldAff == (corev1.Affinity{}) {
				oldTemplate.Spec.Affinity = nil
			}
		case newAff != nil && oldAff == nil:
			oldTemplate.Spec.Affinity = &corev1.Affinity{NodeAffinity: newAff.NodeAffinity}
		case newAff != nil && oldAff != nil:
			oldAff.NodeAffinity = newAff.NodeAffinity
		}
		oldTemplate.Spec.NodeSelector = template.Spec.NodeSelector
		oldTemplate.Spec.Tolerations = template.Spec.Tolerations
		oldTemplate.Annotations = template.Annotations
		oldTemplate.Labels = template.Labels
		oldTemplate.Spec.SchedulingGates = template.Spec.SchedulingGates
	}
	if !opts.mutableTemplate {
		return apimachineryvalidation.ValidateImmutableField(template, oldTemplate, fldPath.Child("template"))
	}
	return validateResourcesOnlyUpdate(&template.Spec, &oldTemplate.Spec, fldPath.Child("template", "spec"))
}

// validateResourcesOnlyUpdate: the pod spec may differ from the stored one in
// its containers' resources alone.
func validateResourcesOnlyUpdate(spec, old *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	want := old.DeepCopy()
	takeResources := func(dst, src []corev1.Container) {
		if len(dst) != len(src) {
			return
		}
		for i := range src {
			if dst[i].Name == src[i].Name {
				dst[i].Resources = src[i].Resources
			}
		}
	}
	takeResources(want.Containers, spec.Containers)
	takeResources(want.InitContainers, spec.InitContainers)
	return apimachineryvalidation.ValidateImmutableField(*spec, *want, fldPath)
}

func conditionTrue(conditions []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
