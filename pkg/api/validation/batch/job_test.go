package batch

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	defaults "github.com/skiffhq/skiff/pkg/api/defaults/batch"
	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

var (
	required      = validationtest.Required
	invalid       = validationtest.Invalid
	notSupported  = validationtest.NotSupported
	duplicate     = validationtest.Duplicate
	expectErrs    = validationtest.Expect
	expectMessage = validationtest.ExpectMessage
)

// uid is the job's uid, as the API server set it on create.
const uid = "6d8e1a9c-0000-4000-8000-000000000001"

// job is what `kubectl create job hello --image=busybox -- sh -c 'exit 0'`
// sends, as the API server validates it: with the generated selector and
// labels, after defaulting, and changed by mutate first.
func job(mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: uid, ResourceVersion: "7"},
		Spec: batchv1.JobSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: uid}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					batchv1.ControllerUidLabel: uid, batchv1.JobNameLabel: "hello",
					LegacyControllerUIDLabel: uid, LegacyJobNameLabel: "hello",
				}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "hello", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}},
				},
			},
		},
	}
	if mutate != nil {
		mutate(j)
	}
	defaults.Job(j)
	return j
}

// TestValidateJobAsUpstream checks the whole message kubectl prints after
// `The Job "hello" is invalid: ` against upstream's (ValidateJobCreate in
// k8s.io/kubernetes/pkg/apis/batch/validation).
func TestValidateJobAsUpstream(t *testing.T) {
	expectErrs(t, ValidateJob(job(nil)))
	long := strings.Repeat("a", 62)
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.Job)
		want   string
	}{
		{"restart policy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`},
		{"restart policy left out, so defaulted to Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`},
		{"negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](-1) },
			`spec.parallelism: Invalid value: -1: must be greater than or equal to 0`},
		{"negative completions", func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](-2) },
			`spec.completions: Invalid value: -2: must be greater than or equal to 0`},
		{"negative backoff limit", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](-1) },
			`spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0`},
		{"negative deadline", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](-5) },
			`spec.activeDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0`},
		{"manual selector that does not select the template", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
			j.Spec.Template.Labels = map[string]string{"app": "other"}
		}, "spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"},
		{"indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptr.To[int32](2)
		}, `spec.completions: Required value: when completion mode is Indexed`},
		{"unknown completion mode", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.CompletionMode("Sometimes")) },
			`spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`},
		{"backoff limit per index of a non-indexed job", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) },
			`spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode`},
		{"an indexed job's pod names outgrow a DNS label", func(j *batchv1.Job) {
			j.Name = long
			j.Spec.Template.Labels[LegacyJobNameLabel], j.Spec.Template.Labels[batchv1.JobNameLabel] = long, long
			j.Spec.CompletionMode, j.Spec.Completions = ptr.To(batchv1.IndexedCompletion), ptr.To[int32](10)
		}, `metadata.name: Invalid value: "` + long + `": will not able to create pod with invalid DNS label: ` + long + `-9`},
		{"pod failure policy with OnFailure", func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
			}}}
		}, `spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`},
		{"pod failure policy rule without a requirement", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore}}}
		}, `spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required`},
		{"pod failure policy replacing terminating pods", func(j *batchv1.Job) {
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
			}}}
		}, `spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`},
		{"a generated label the client set otherwise", func(j *batchv1.Job) { j.Spec.Template.Labels[LegacyControllerUIDLabel] = "other" },
			`spec.template.metadata.labels[controller-uid]: Invalid value: {"batch.kubernetes.io/controller-uid":"` + uid +
				`","batch.kubernetes.io/job-name":"hello","controller-uid":"other","job-name":"hello"}: must be '` + uid + `'`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectMessage(t, ValidateJob(job(tc.mutate)), tc.want) })
	}
	// No selector selects nothing, so not the template either.
	expectErrs(t, ValidateJob(job(func(j *batchv1.Job) { j.Spec.ManualSelector, j.Spec.Selector = ptr.To(true), nil })),
		required("spec.selector"), invalid("spec.template.metadata.labels", "`selector` does not match template `labels`"))
}

// TestValidatePodFailurePolicy: each rule has an action and one requirement,
// with exit codes that are ordered, unique and not 0 for In.
func TestValidatePodFailurePolicy(t *testing.T) {
	j := job(func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To("nobody"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{0, 5, 5, 3},
			}},
			{Action: "Retry", OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "a b", Status: "Maybe"}}},
			{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "Between", Values: []int32{1}},
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}},
		}}
	})
	rules := "spec.podFailurePolicy.rules"
	expectErrs(t, ValidateJob(j),
		required(rules+"[0].action"),
		invalid(rules+"[0].onExitCodes.containerName", "must be one of the container or initContainer names in the pod template"),
		invalid(rules+"[0].onExitCodes.values[0]", "must not be 0 for the In operator"),
		duplicate(rules+"[0].onExitCodes.values[2]"),
		invalid(rules+"[0].onExitCodes.values", "must be ordered"),
		notSupported(rules+"[1].action", `supported values: "Count", "FailIndex", "FailJob", "Ignore"`),
		invalid(rules+"[1].onPodConditions[0].type", "name part must consist of"),
		notSupported(rules+"[1].onPodConditions[0].status", `supported values: "False", "True", "Unknown"`),
		invalid(rules+"[2].action", "requires the backoffLimitPerIndex to be set"),
		notSupported(rules+"[2].onExitCodes.operator", `supported values: "In", "NotIn"`),
		invalid(rules+"[2]", "specifying both OnExitCodes and OnPodConditions is not supported"),
	)
	if got := ValidateJob(j)[0].Error(); got != `spec.podFailurePolicy.rules[0].action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]` {
		t.Errorf("first error: %s", got)
	}
	// A pattern's status defaults to True.
	if s := j.Spec.PodFailurePolicy.Rules[2].OnPodConditions[0].Status; s != corev1.ConditionTrue {
		t.Errorf("pattern status defaulted to %q", s)
	}
}

// TestValidateJobUpdate: a job's spec is fixed once it exists, but for an
// indexed job's scale and a suspended job's scheduling and resources.
func TestValidateJobUpdate(t *testing.T) {
	running := job(nil)
	running.Status.StartTime = ptr.To(metav1.Now())
	running.Status.Active = 1
	suspended := job(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })
	update := func(old *batchv1.Job, change func(*batchv1.Job)) field.ErrorList {
		j := old.DeepCopy()
		change(j)
		return ValidateJobUpdate(j, old)
	}
	image := func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "busybox:1.37" }
	nodeSelector := func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} }

	errs := update(running, image)
	expectErrs(t, errs, invalid("spec.template", "field is immutable"))
	if msg := errs.ToAggregate().Error(); !strings.HasPrefix(msg, `spec.template: Invalid value: {"metadata":`) || !strings.HasSuffix(msg, `: field is immutable`) {
		t.Errorf("message: %s", msg)
	}
	expectErrs(t, update(running, nodeSelector), invalid("spec.template", "field is immutable"))
	expectErrs(t, update(running, func(j *batchv1.Job) { j.Labels = map[string]string{"team": "a"}; j.Spec.Suspend = ptr.To(true) }))

	// A suspended job that never started may be moved and resized, not changed.
	expectErrs(t, update(suspended, nodeSelector))
	expectErrs(t, update(suspended, func(j *batchv1.Job) {
		j.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}
		j.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		j.Spec.Template.Labels["tier"] = "batch"
	}))
	expectErrs(t, update(suspended, image), invalid("spec.template.spec", "field is immutable"))
	startedOnce := suspended.DeepCopy()
	startedOnce.Status.StartTime = ptr.To(metav1.Now())
	expectErrs(t, update(startedOnce, nodeSelector), invalid("spec.template", "field is immutable"))
	startedOnce.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}
	expectErrs(t, update(startedOnce, nodeSelector))

	expectMessage(t, update(running, func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](3) }),
		`spec.completions: Invalid value: 3: field is immutable`)
	expectErrs(t, update(running, func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["x"] = "y" }),
		invalid("spec.selector", "field is immutable"), invalid("spec.template.metadata.labels", "`selector` does not match template `labels`"))
	expectErrs(t, update(running, func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](4); j.Spec.BackoffLimit = ptr.To[int32](1) }))

	indexed := job(func(j *batchv1.Job) {
		j.Spec.CompletionMode, j.Spec.Completions, j.Spec.Parallelism = ptr.To(batchv1.IndexedCompletion), ptr.To[int32](3), ptr.To[int32](3)
	})
	expectMessage(t, update(indexed, func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](4) }),
		`spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism`)
	expectErrs(t, update(indexed, func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](4) }))
	expectErrs(t, update(indexed, func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.NonIndexedCompletion) }),
		invalid("spec.completionMode", "field is immutable"))
}

// TestValidateJobStatusUpdate: counters only grow, terminal conditions stay,
// and a complete job says when it completed.
func TestValidateJobStatusUpdate(t *testing.T) {
	old := job(nil)
	start := metav1.Now()
	old.Status = batchv1.JobStatus{StartTime: &start, Active: 1, Succeeded: 1, Ready: ptr.To[int32](1)}
	update := func(change func(*batchv1.JobStatus)) field.ErrorList {
		j := old.DeepCopy()
		change(&j.Status)
		return ValidateJobStatusUpdate(j, old)
	}
	done := func(s *batchv1.JobStatus) {
		s.Active, s.Ready, s.Succeeded = 0, ptr.To[int32](0), 2
		s.CompletionTime = ptr.To(metav1.NewTime(start.Add(5e9)))
		s.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue},
		}
	}
	expectErrs(t, update(done))
	expectMessage(t, update(func(s *batchv1.JobStatus) { s.Succeeded = 0 }),
		`status.succeeded: Invalid value: 0: cannot decrease the succeeded counter`)
	expectMessage(t, update(func(s *batchv1.JobStatus) { s.Ready = ptr.To[int32](2) }),
		`status.ready: Invalid value: 2: cannot set more ready pods than active`)
	expectErrs(t, update(func(s *batchv1.JobStatus) { done(s); s.CompletionTime = nil; s.Active = 1 }),
		required("status.completionTime"), invalid("status.active", "active>0 is invalid for finished job"))
	expectErrs(t, update(func(s *batchv1.JobStatus) { done(s); s.Conditions = s.Conditions[1:] }),
		invalid("status.conditions", "cannot set Complete=True condition without the SuccessCriteriaMet=true condition"))
	expectErrs(t, update(func(s *batchv1.JobStatus) { s.CompletedIndexes = "0" }),
		invalid("status.completedIndexes", "cannot set non-empty completedIndexes when non-indexed completion mode"))

	finished := old.DeepCopy()
	done(&finished.Status)
	reopened := finished.DeepCopy()
	reopened.Status.Conditions = reopened.Status.Conditions[:1]
	reopened.Status.CompletionTime = nil
	expectErrs(t, ValidateJobStatusUpdate(reopened, finished),
		invalid("status.conditions", "cannot disable the terminal Complete=True condition"))
}

func TestIndexes(t *testing.T) {
	for _, tc := range []struct {
		in    string
		total int32
		err   string
	}{
		{"", 0, ""}, {"0,2-4,6", 5, ""}, {"1-1", 0, "non-increasing order, previous: 1, current: 1"},
		{"3,1", 0, "non-increasing order, previous: 3, current: 1"}, {"7", 0, `too large index: "7"`},
		{"a", 0, `cannot convert string to integer for index: "a"`},
		{"1-2-3", 0, `the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'`},
	} {
		total, err := countIndexes(tc.in, 7)
		if got := errString(err); got != tc.err || total != tc.total {
			t.Errorf("countIndexes(%q) = %d, %q; want %d, %q", tc.in, total, got, tc.total, tc.err)
		}
	}
	if err := indexesOverlap("0-2,5", "3,5-6", 7); errString(err) != "failedIndexes and completedIndexes overlap at index: 5" {
		t.Errorf("overlap: %v", err)
	}
	if err := indexesOverlap("0-2,x", "3-4,6", 7); err != nil {
		t.Errorf("no overlap: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
