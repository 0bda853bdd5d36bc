package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

const ns = "default"

// fixture is the controller on a fake clientset, whose syncs the test runs
// one at a time (no workers), with a fake clock.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	c      *Controller
	ids    atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewClientset(), clock: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	// Names, UIDs and creation times, as the API server gives them.
	f.client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
		n := f.ids.Add(1)
		if obj.GetName() == "" {
			obj.SetName(fmt.Sprintf("%s%05d", obj.GetGenerateName(), n))
		}
		obj.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
		obj.SetCreationTimestamp(metav1.NewTime(f.clock.Now()))
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(f.client, 0)
	f.c = New(f.client, factory, Options{Clock: f.clock})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); factory.Shutdown(); f.c.queue.ShutDown(); f.c.orphans.ShutDown() })
	f.ctx = ctx
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return f
}

func newJob(name string, completions, parallelism *int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			Completions:  completions,
			Parallelism:  parallelism,
			BackoffLimit: ptr.To[int32](6),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"job-name": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job-name": name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"true"}}},
				},
			},
		},
	}
}

func (f *fixture) create(j *batchv1.Job) *batchv1.Job {
	f.t.Helper()
	out, err := f.client.BatchV1().Jobs(ns).Create(f.ctx, j, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// settle waits until the informers hold what the clientset holds.
func (f *fixture) settle() {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		jobs, _ := f.client.BatchV1().Jobs(ns).List(f.ctx, metav1.ListOptions{})
		pods, _ := f.client.CoreV1().Pods(ns).List(f.ctx, metav1.ListOptions{})
		if f.cached(f.c.jobs.Jobs(ns).Get, jobs.Items) && f.cachedPods(pods.Items) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatal("informers did not catch up with the clientset")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (f *fixture) cached(get func(string) (*batchv1.Job, error), want []batchv1.Job) bool {
	all, _ := f.c.jobs.List(labels.Everything())
	if len(all) != len(want) {
		return false
	}
	for i := range want {
		got, err := get(want[i].Name)
		if err != nil || !equality.Semantic.DeepEqual(got, &want[i]) {
			return false
		}
	}
	return true
}

func (f *fixture) cachedPods(want []corev1.Pod) bool {
	if len(f.c.pods.ListKeys()) != len(want) {
		return false
	}
	for i := range want {
		got, ok, _ := f.c.pods.GetByKey(ns + "/" + want[i].Name)
		if !ok || !equality.Semantic.DeepEqual(got, &want[i]) {
			return false
		}
	}
	return true
}

// sync runs one sync of the Job once the caches are current.
func (f *fixture) sync(name string) {
	f.t.Helper()
	f.settle()
	if err := f.c.sync(f.ctx, ns+"/"+name); err != nil {
		f.t.Fatalf("sync %s: %v", name, err)
	}
	f.settle()
}

func (f *fixture) job(name string) *batchv1.Job {
	f.t.Helper()
	j, err := f.client.BatchV1().Jobs(ns).Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

// pods are the Job's pods that are not being deleted, by name.
func (f *fixture) pods() []*corev1.Pod {
	list, err := f.client.CoreV1().Pods(ns).List(f.ctx, metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp == nil {
			out = append(out, &list.Items[i])
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *fixture) activePods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range f.pods() {
		if !podFinished(p) {
			out = append(out, p)
		}
	}
	return out
}

// finish ends a pod's one container with exitCode, as a kubelet reports it.
func (f *fixture) finish(p *corev1.Pod, exitCode int32) {
	f.t.Helper()
	p = p.DeepCopy()
	now := metav1.NewTime(f.clock.Now())
	reason, phase := "Completed", corev1.PodSucceeded
	if exitCode != 0 {
		reason, phase = "Error", corev1.PodFailed
	}
	p.Status.Phase = phase
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: reason, StartedAt: now, FinishedAt: now}}}}
	if _, err := f.client.CoreV1().Pods(ns).UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) run(p *corev1.Pod) {
	f.t.Helper()
	p = p.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := f.client.CoreV1().Pods(ns).UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func wantCondition(t *testing.T, j *batchv1.Job, ct batchv1.JobConditionType, reason, message string) {
	t.Helper()
	c := conditionTrue(j.Status.Conditions, ct)
	if c == nil {
		t.Fatalf("job %s has no %s condition: %+v", j.Name, ct, j.Status.Conditions)
	}
	if c.Reason != reason || (message != "" && c.Message != message) {
		t.Fatalf("job %s: %s condition is %q %q, want %q %q", j.Name, ct, c.Reason, c.Message, reason, message)
	}
}

func wantCounts(t *testing.T, j *batchv1.Job, active, succeeded, failed int32) {
	t.Helper()
	if s := j.Status; s.Active != active || s.Succeeded != succeeded || s.Failed != failed {
		t.Fatalf("job %s: active/succeeded/failed %d/%d/%d, want %d/%d/%d (uncounted %+v)",
			j.Name, s.Active, s.Succeeded, s.Failed, active, succeeded, failed, s.UncountedTerminatedPods)
	}
}

func wantNoFinalizers(t *testing.T, pods []*corev1.Pod) {
	t.Helper()
	for _, p := range pods {
		if hasTrackingFinalizer(p) {
			t.Fatalf("pod %s still has the tracking finalizer", p.Name)
		}
	}
}

func TestCompletions(t *testing.T) {
	f := newFixture(t)
	f.create(newJob("pi", ptr.To[int32](3), ptr.To[int32](2)))
	f.sync("pi")
	pods := f.pods()
	if len(pods) != 2 {
		t.Fatalf("%d pods, want 2 (parallelism)", len(pods))
	}
	for _, p := range pods {
		if !hasTrackingFinalizer(p) || metav1.GetControllerOf(p) == nil || !strings.HasPrefix(p.Name, "pi-") {
			t.Fatalf("pod %s: finalizers %v, owner %v", p.Name, p.Finalizers, p.OwnerReferences)
		}
	}
	j := f.job("pi")
	wantCounts(t, j, 2, 0, 0)
	if j.Status.StartTime == nil {
		t.Fatal("no startTime")
	}
	f.run(pods[0])
	f.sync("pi")
	if r := f.job("pi").Status.Ready; r == nil || *r != 1 {
		t.Fatalf("ready = %v, want 1", r)
	}

	f.finish(pods[0], 0)
	f.finish(pods[1], 0)
	f.sync("pi")
	wantCounts(t, f.job("pi"), 1, 2, 0) // one more for the last completion
	if n := len(f.activePods()); n != 1 {
		t.Fatalf("%d active pods, want 1", n)
	}
	f.finish(f.activePods()[0], 0)
	f.sync("pi")
	j = f.job("pi")
	wantCounts(t, j, 0, 3, 0)
	wantCondition(t, j, batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompletionsReached)
	wantCondition(t, j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached, msgCompletionsReached)
	if j.Status.CompletionTime == nil || len(j.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Fatalf("completionTime %v, uncounted %+v", j.Status.CompletionTime, j.Status.UncountedTerminatedPods)
	}
	wantNoFinalizers(t, f.pods())
}

func TestParallelismWithoutCompletions(t *testing.T) {
	f := newFixture(t)
	f.create(newJob("work", nil, ptr.To[int32](3)))
	f.sync("work")
	if n := len(f.pods()); n != 3 {
		t.Fatalf("%d pods, want 3", n)
	}
	// Scaled down: the extra pod goes, and is not counted as failed.
	j := f.job("work")
	j.Spec.Parallelism = ptr.To[int32](2)
	if _, err := f.client.BatchV1().Jobs(ns).Update(f.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync("work")
	if n := len(f.pods()); n != 2 {
		t.Fatalf("%d pods after scaling to 2, want 2", n)
	}
	// One success: no new pods, the others run to their end.
	pods := f.pods()
	f.finish(pods[0], 0)
	f.sync("work")
	wantCounts(t, f.job("work"), 1, 1, 0)
	if n := len(f.pods()); n != 2 {
		t.Fatalf("%d pods after a success, want 2", n)
	}
	f.finish(pods[1], 0)
	f.sync("work")
	j = f.job("work")
	wantCounts(t, j, 0, 2, 0)
	wantCondition(t, j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached, msgCompletionsReached)
}

func TestBackoffThenBackoffLimitExceeded(t *testing.T) {
	f := newFixture(t)
	j := newJob("flaky", ptr.To[int32](1), ptr.To[int32](1))
	j.Spec.BackoffLimit = ptr.To[int32](2)
	f.create(j)
	f.sync("flaky")
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
		f.finish(f.activePods()[0], 1)
		f.sync("flaky")
		wantCounts(t, f.job("flaky"), 0, 0, int32(i+1))
		wantNoFinalizers(t, f.pods())
		// No replacement before the back-off has passed.
		f.clock.Step(wait - time.Second)
		f.sync("flaky")
		if n := len(f.activePods()); n != 0 {
			t.Fatalf("failure %d: a replacement after %v, before the back-off of %v", i+1, wait-time.Second, wait)
		}
		f.clock.Step(time.Second)
		f.sync("flaky")
		if n := len(f.activePods()); n != 1 {
			t.Fatalf("failure %d: %d active pods after the back-off, want 1", i+1, n)
		}
	}
	f.finish(f.activePods()[0], 1)
	f.sync("flaky")
	j = f.job("flaky")
	wantCounts(t, j, 0, 0, 3)
	wantCondition(t, j, batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit)
	wantCondition(t, j, batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit)
	if conditionTrue(j.Status.Conditions, batchv1.JobComplete) != nil || j.Status.CompletionTime != nil {
		t.Fatal("a failed job has Complete or a completionTime")
	}
}

func TestBackoffDelays(t *testing.T) {
	now := time.Now()
	for failures, want := range map[int]time.Duration{0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 7: 10 * time.Minute, 40: 10 * time.Minute} {
		if got := (backoffRecord{failures: failures, lastFailure: now}).delay(now); got != want {
			t.Errorf("%d failures: delay %v, want %v", failures, got, want)
		}
	}
}

func TestActiveDeadlineExceeded(t *testing.T) {
	f := newFixture(t)
	j := newJob("slow", ptr.To[int32](1), ptr.To[int32](1))
	j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	f.create(j)
	f.sync("slow")
	f.run(f.pods()[0])
	f.clock.Step(29 * time.Second)
	f.sync("slow")
	if conditionTrue(f.job("slow").Status.Conditions, batchv1.JobFailureTarget) != nil {
		t.Fatal("failed before the deadline")
	}
	f.clock.Step(time.Second)
	f.sync("slow")
	if n := len(f.pods()); n != 0 {
		t.Fatalf("%d pods left after the deadline, want 0", n)
	}
	f.sync("slow")
	j = f.job("slow")
	wantCondition(t, j, batchv1.JobFailed, batchv1.JobReasonDeadlineExceeded, msgDeadline)
	wantCounts(t, j, 0, 0, 1)
}

func TestIndexed(t *testing.T) {
	f := newFixture(t)
	j := newJob("idx", ptr.To[int32](3), ptr.To[int32](3))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	f.create(j)
	f.sync("idx")
	pods := f.pods()
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	byIndex := map[string]*corev1.Pod{}
	for _, p := range pods {
		ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "idx-"+ix || !strings.HasPrefix(p.Name, "idx-"+ix+"-") {
			t.Fatalf("pod %s: index %q, labels %v, hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Fatalf("pod %s: env %+v", p.Name, env)
		}
		byIndex[ix] = p
	}
	if len(byIndex) != 3 {
		t.Fatalf("indexes %v, want 0, 1 and 2", byIndex)
	}
	f.finish(byIndex["1"], 0)
	f.clock.Step(time.Second) // a failure after the last success: backed off
	f.finish(byIndex["0"], 1)
	f.sync("idx")
	j = f.job("idx")
	if j.Status.CompletedIndexes != "1" {
		t.Fatalf("completedIndexes %q, want 1", j.Status.CompletedIndexes)
	}
	wantCounts(t, j, 1, 1, 1)
	f.clock.Step(10 * time.Second)
	f.sync("idx")
	var again *corev1.Pod
	for _, p := range f.activePods() {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
			again = p
		}
	}
	if again == nil || len(f.activePods()) != 2 {
		t.Fatalf("index 0 not started again: active %d", len(f.activePods()))
	}
	f.finish(again, 0)
	f.finish(byIndex["2"], 0)
	f.sync("idx")
	j = f.job("idx")
	if j.Status.CompletedIndexes != "0-2" {
		t.Fatalf("completedIndexes %q, want 0-2", j.Status.CompletedIndexes)
	}
	wantCounts(t, j, 0, 3, 1)
	wantCondition(t, j, batchv1.JobComplete, batchv1.JobReasonCompletionsReached, msgCompletionsReached)
}

func TestPodFailurePolicyFailJob(t *testing.T) {
	f := newFixture(t)
	j := newJob("policy", ptr.To[int32](2), ptr.To[int32](2))
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
	}}
	f.create(j)
	f.sync("policy")
	pods := f.pods()
	f.finish(pods[0], 3) // ignored: not counted, but replaced after the back-off
	f.sync("policy")
	wantCounts(t, f.job("policy"), 1, 0, 0)
	f.clock.Step(10 * time.Second)
	f.sync("policy")
	wantCounts(t, f.job("policy"), 2, 0, 0)
	failing := f.activePods()[0]
	f.finish(failing, 42)
	f.sync("policy")
	f.sync("policy")
	j = f.job("policy")
	msg := fmt.Sprintf("Container main for pod default/%s failed with exit code 42 matching FailJob rule at index 1", failing.Name)
	wantCondition(t, j, batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, msg)
	wantCondition(t, j, batchv1.JobFailed, batchv1.JobReasonPodFailurePolicy, msg)
	wantCounts(t, j, 0, 0, 2) // the FailJob pod and the running one it stopped
	if n := len(f.pods()); n != 2 {
		t.Fatalf("%d pods left, want the two failed ones (the running one is deleted)", n)
	}
	wantNoFinalizers(t, f.pods())
}

func TestSuspendAndResume(t *testing.T) {
	f := newFixture(t)
	j := newJob("later", ptr.To[int32](2), ptr.To[int32](2))
	j.Spec.Suspend = ptr.To(true)
	f.create(j)
	f.sync("later")
	j = f.job("later")
	if len(f.pods()) != 0 || j.Status.StartTime != nil {
		t.Fatalf("suspended job: %d pods, startTime %v", len(f.pods()), j.Status.StartTime)
	}
	wantCondition(t, j, batchv1.JobSuspended, "JobSuspended", "Job suspended")

	f.clock.Step(time.Minute)
	j.Spec.Suspend = ptr.To(false)
	if _, err := f.client.BatchV1().Jobs(ns).Update(f.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync("later")
	j = f.job("later")
	if len(f.pods()) != 2 || j.Status.StartTime == nil || !j.Status.StartTime.Time.Equal(f.clock.Now()) {
		t.Fatalf("resumed job: %d pods, startTime %v", len(f.pods()), j.Status.StartTime)
	}
	if c := findCondition(j.Status.Conditions, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
		t.Fatalf("Suspended condition after resume: %+v", c)
	}

	// Suspended again: the pods go, and are not counted as failures.
	j.Spec.Suspend = ptr.To(true)
	if _, err := f.client.BatchV1().Jobs(ns).Update(f.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync("later")
	f.sync("later")
	j = f.job("later")
	if len(f.pods()) != 0 {
		t.Fatalf("%d pods left in a suspended job", len(f.pods()))
	}
	wantCounts(t, j, 0, 0, 0)
	wantCondition(t, j, batchv1.JobSuspended, "JobSuspended", "Job suspended")
}

func TestOrphanPodLosesFinalizer(t *testing.T) {
	f := newFixture(t)
	j := f.create(newJob("gone", ptr.To[int32](1), ptr.To[int32](1)))
	f.sync("gone")
	pod := f.pods()[0]
	if err := f.client.BatchV1().Jobs(ns).Delete(f.ctx, j.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle()
	if err := f.c.syncOrphanPod(f.ctx, ns+"/"+pod.Name); err != nil {
		t.Fatal(err)
	}
	wantNoFinalizers(t, f.pods())
}

func TestManagedElsewhereIsLeftAlone(t *testing.T) {
	f := newFixture(t)
	j := newJob("theirs", ptr.To[int32](1), ptr.To[int32](1))
	j.Spec.ManagedBy = ptr.To("example.com/other")
	f.create(j)
	f.sync("theirs")
	if len(f.pods()) != 0 || f.job("theirs").Status.StartTime != nil {
		t.Fatal("the controller acted on a job managed by another")
	}
}

func TestIntervals(t *testing.T) {
	in := parseIntervals("0,2-4,9,x,7-5", 9)
	if got := in.String(); got != "0,2-4" {
		t.Fatalf("parsed %q", got)
	}
	if got := parseIntervals("3-4,8", 9).String(); got != "3,4,8" {
		t.Fatalf("two in a row: %q, want 3,4,8 as upstream writes it", got)
	}
	in = in.with([]int{1, 6, 5})
	if got := in.String(); got != "0-6" || in.total() != 7 || !in.has(6) || in.has(7) {
		t.Fatalf("with: %q", got)
	}
}

func TestOnFailureRestartsCountAgainstBackoffLimit(t *testing.T) {
	f := newFixture(t)
	j := newJob("restarts", ptr.To[int32](1), ptr.To[int32](1))
	j.Spec.BackoffLimit = ptr.To[int32](2)
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	f.create(j)
	f.sync("restarts")
	p := f.pods()[0].DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", RestartCount: 1,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	p, err := f.client.CoreV1().Pods(ns).UpdateStatus(f.ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.sync("restarts")
	if conditionTrue(f.job("restarts").Status.Conditions, batchv1.JobFailureTarget) != nil {
		t.Fatal("failed after 1 restart of 2")
	}
	p.Status.ContainerStatuses[0].RestartCount = 2
	if _, err := f.client.CoreV1().Pods(ns).UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync("restarts")
	f.sync("restarts")
	j = f.job("restarts")
	wantCondition(t, j, batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit)
	wantCounts(t, j, 0, 0, 1)
	if n := len(f.pods()); n != 0 {
		t.Fatalf("%d pods left", n)
	}
}

func TestSuccessPolicy(t *testing.T) {
	f := newFixture(t)
	j := newJob("leader", ptr.To[int32](3), ptr.To[int32](3))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
	f.create(j)
	f.sync("leader")
	for _, p := range f.pods() {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "0" {
			f.finish(p, 0)
		}
	}
	f.sync("leader")
	wantCondition(t, f.job("leader"), batchv1.JobSuccessCriteriaMet, batchv1.JobReasonSuccessPolicy, "Matched rules at index 0")
	f.sync("leader")
	j = f.job("leader")
	wantCondition(t, j, batchv1.JobComplete, batchv1.JobReasonSuccessPolicy, "Matched rules at index 0")
	if j.Status.CompletedIndexes != "0" || j.Status.Failed != 0 || len(f.activePods()) != 0 {
		t.Fatalf("completedIndexes %q, failed %d, %d pods still active", j.Status.CompletedIndexes, j.Status.Failed, len(f.activePods()))
	}
}

// TestRunCompletesAJob runs the controller's loop (handlers, queues,
// workers): a Job's pod succeeds, and the Job is Complete.
func TestRunCompletesAJob(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error)
	go func() { done <- f.c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	f.create(newJob("loop", ptr.To[int32](1), ptr.To[int32](1)))
	until := func(what string, cond func() bool) {
		t.Helper()
		for range 500 {
			if cond() {
				return
			}
			time.Sleep(5 * time.Millisecond)
			f.clock.Step(100 * time.Millisecond) // the batch period passes
		}
		t.Fatalf("%s: not after 500 steps", what)
	}
	until("a pod", func() bool { return len(f.pods()) == 1 })
	f.finish(f.pods()[0], 0)
	until("Complete", func() bool { return conditionTrue(f.job("loop").Status.Conditions, batchv1.JobComplete) != nil })
	wantCounts(t, f.job("loop"), 0, 1, 0)
	until("finalizer removed", func() bool { return !hasTrackingFinalizer(f.pods()[0]) })
}

func TestBackoffLimitPerIndex(t *testing.T) {
	f := newFixture(t)
	j := newJob("per", ptr.To[int32](2), ptr.To[int32](2))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
	j.Spec.BackoffLimit = ptr.To[int32](1 << 30) // as the API defaults it then
	f.create(j)
	f.sync("per")
	index := func(ix string) *corev1.Pod {
		t.Helper()
		for _, p := range f.activePods() {
			if p.Annotations[batchv1.JobCompletionIndexAnnotation] == ix {
				return p
			}
		}
		t.Fatalf("no active pod of index %s", ix)
		return nil
	}
	first := index("0")
	if first.Annotations[batchv1.JobIndexFailureCountAnnotation] != "0" {
		t.Fatalf("first pod of index 0: annotations %v", first.Annotations)
	}
	f.finish(first, 1)
	f.sync("per")
	f.clock.Step(9 * time.Second)
	f.sync("per")
	if len(f.activePods()) != 1 {
		t.Fatal("index 0 restarted before its back-off")
	}
	f.clock.Step(time.Second)
	f.sync("per")
	second := index("0")
	if second.Annotations[batchv1.JobIndexFailureCountAnnotation] != "1" {
		t.Fatalf("second pod of index 0: annotations %v", second.Annotations)
	}
	f.sync("per")
	wantCounts(t, f.job("per"), 2, 0, 1) // the first failure counted once replaced
	f.finish(second, 1)                  // index 0 has failed for good
	f.sync("per")
	j = f.job("per")
	if ptr.Deref(j.Status.FailedIndexes, "") != "0" || conditionTrue(j.Status.Conditions, batchv1.JobFailureTarget) != nil {
		t.Fatalf("failedIndexes %v, conditions %+v", j.Status.FailedIndexes, j.Status.Conditions)
	}
	f.finish(index("1"), 0)
	f.sync("per")
	f.sync("per")
	j = f.job("per")
	wantCondition(t, j, batchv1.JobFailed, batchv1.JobReasonFailedIndexes, msgFailedIndexes)
	if j.Status.CompletedIndexes != "1" || ptr.Deref(j.Status.FailedIndexes, "") != "0" {
		t.Fatalf("completedIndexes %q, failedIndexes %v", j.Status.CompletedIndexes, j.Status.FailedIndexes)
	}
	wantCounts(t, j, 0, 1, 2)
	wantNoFinalizers(t, f.pods())
}

func TestFailIndexRule(t *testing.T) {
	f := newFixture(t)
	j := newJob("failidx", ptr.To[int32](2), ptr.To[int32](1))
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.BackoffLimitPerIndex = ptr.To[int32](3)
	j.Spec.BackoffLimit = ptr.To[int32](1 << 30)
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{5}}},
	}}
	f.create(j)
	f.sync("failidx")
	f.finish(f.activePods()[0], 5) // index 0 fails at once
	f.sync("failidx")
	pods := f.activePods()
	if len(pods) != 1 || pods[0].Annotations[batchv1.JobCompletionIndexAnnotation] != "1" {
		t.Fatalf("after index 0 failed: %d active pods, want index 1 started", len(pods))
	}
	if got := ptr.Deref(f.job("failidx").Status.FailedIndexes, ""); got != "0" {
		t.Fatalf("failedIndexes %q, want 0", got)
	}
}

func TestAdoptsMatchingOrphansAndReleasesOthers(t *testing.T) {
	f := newFixture(t)
	f.create(newJob("adopt", ptr.To[int32](4), ptr.To[int32](2)))
	f.sync("adopt")
	pod := f.pods()[0].DeepCopy()
	pod.OwnerReferences = nil
	if _, err := f.client.CoreV1().Pods(ns).Update(f.ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync("adopt")
	got, err := f.client.CoreV1().Pods(ns).Get(f.ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.Name != "adopt" || ref.Kind != "Job" || !hasTrackingFinalizer(got) {
		t.Fatalf("orphan not adopted: owner %v, finalizers %v", ref, got.Finalizers)
	}
	if n := len(f.pods()); n != 2 {
		t.Fatalf("%d pods after the adoption, want 2", n)
	}

	got.Labels = nil
	if _, err := f.client.CoreV1().Pods(ns).Update(f.ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync("adopt")
	got, err = f.client.CoreV1().Pods(ns).Get(f.ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(got); ref != nil || hasTrackingFinalizer(got) {
		t.Fatalf("pod not released: owner %v, finalizers %v", ref, got.Finalizers)
	}
	f.sync("adopt")
	if n := len(f.pods()); n != 3 {
		t.Fatalf("%d pods after the release, want the released one and 2 of the job", n)
	}
}
