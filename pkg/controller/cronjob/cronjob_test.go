package cronjob

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
)

func TestScheduleFires(t *testing.T) {
	e := newEnv(t, at(10, 2, 30))
	cj := e.create(newCronJob("tick", "*/5 * * * *"))
	e.sync("tick")
	if names := e.jobNames(); len(names) != 0 {
		t.Fatalf("jobs before the first scheduled time: %v", names)
	}
	e.drainQueue()

	// The sync queued the cron job for just after 10:05, and not before.
	e.clock.SetTime(at(10, 4, 59))
	if e.queued("tick") {
		t.Fatalf("woken at 10:04:59, before its scheduled time")
	}
	e.clock.SetTime(at(10, 5, 1))
	if !e.queued("tick") {
		t.Fatalf("not woken at its scheduled time")
	}
	e.sync("tick")

	name := "tick-" + minutes(at(10, 5, 0))
	job := e.jobs()[name]
	if job == nil {
		t.Fatalf("jobs %v, want %s", e.jobNames(), name)
	}
	wantAnnotations := map[string]string{"note": "from the template", batchv1.CronJobScheduledTimestampAnnotation: "2026-03-02T10:05:00Z"}
	if !maps.Equal(job.Annotations, wantAnnotations) {
		t.Errorf("annotations %v, want %v", job.Annotations, wantAnnotations)
	}
	if !maps.Equal(job.Labels, map[string]string{"app": "tick"}) {
		t.Errorf("labels %v", job.Labels)
	}
	wantRefs := []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "tick", UID: cj.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	if !reflect.DeepEqual(job.OwnerReferences, wantRefs) {
		t.Errorf("owner references %+v, want %+v", job.OwnerReferences, wantRefs)
	}
	if !reflect.DeepEqual(job.Spec, cj.Spec.JobTemplate.Spec) {
		t.Errorf("job spec %+v, want the template's", job.Spec)
	}
	st := e.cronJob("tick").Status
	wantActive := []corev1.ObjectReference{{Kind: "Job", APIVersion: "batch/v1", Namespace: ns, Name: name, UID: job.UID, ResourceVersion: st.Active[0].ResourceVersion}}
	if !reflect.DeepEqual(st.Active, wantActive) {
		t.Errorf("active %+v, want %+v", st.Active, wantActive)
	}
	if st.LastScheduleTime == nil || !st.LastScheduleTime.Time.Equal(at(10, 5, 0)) {
		t.Errorf("lastScheduleTime %v, want 10:05", st.LastScheduleTime)
	}
	if ev := e.events(); !hasEvent(ev, "Normal SuccessfulCreate Created job "+name) {
		t.Errorf("events %q", ev)
	}

	// Syncing again at the same time starts nothing more.
	e.sync("tick")
	if names := e.jobNames(); len(names) != 1 {
		t.Errorf("jobs after a second sync: %v", names)
	}

	// The job completes: it leaves the active list and sets lastSuccessfulTime.
	e.clock.SetTime(at(10, 6, 0))
	e.finish(name, batchv1.JobComplete)
	e.sync("tick")
	st = e.cronJob("tick").Status
	if len(st.Active) != 0 || st.LastSuccessfulTime == nil || !st.LastSuccessfulTime.Time.Equal(at(10, 6, 0)) {
		t.Errorf("after completion: active %v, lastSuccessfulTime %v", st.Active, st.LastSuccessfulTime)
	}
	if ev := e.events(); !hasEvent(ev, "Normal SawCompletedJob Saw completed job: "+name+", condition: Complete") {
		t.Errorf("events %q", ev)
	}
}

func TestForbidSkipsWhileActive(t *testing.T) {
	e := newEnv(t, at(10, 0, 30))
	cj := newCronJob("once", "*/1 * * * *")
	cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
	e.create(cj)
	e.clock.SetTime(at(10, 1, 0))
	e.sync("once")
	first := "once-" + minutes(at(10, 1, 0))
	if names := e.jobNames(); !slices.Equal(names, []string{first}) {
		t.Fatalf("jobs %v, want %s", names, first)
	}
	e.events()

	e.clock.SetTime(at(10, 2, 0))
	e.sync("once")
	if names := e.jobNames(); !slices.Equal(names, []string{first}) {
		t.Fatalf("with a job running, jobs %v, want only %s", names, first)
	}
	if ev := e.events(); !hasEvent(ev, "Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid") {
		t.Errorf("events %q", ev)
	}

	// Once the first finishes, the time it held up is started (late, as no
	// deadline forbids it).
	e.clock.SetTime(at(10, 2, 20))
	e.finish(first, batchv1.JobFailed)
	e.sync("once")
	second := "once-" + minutes(at(10, 2, 0))
	if names := e.jobNames(); !slices.Equal(names, []string{first, second}) {
		t.Fatalf("after the first failed, jobs %v, want %s too", names, second)
	}
	if st := e.cronJob("once").Status; len(st.Active) != 1 || st.Active[0].Name != second || st.LastSuccessfulTime != nil {
		t.Errorf("status %+v", st)
	}
}

func TestReplaceDeletesRunningJob(t *testing.T) {
	e := newEnv(t, at(10, 0, 30))
	cj := newCronJob("swap", "*/1 * * * *")
	cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
	e.create(cj)
	e.clock.SetTime(at(10, 1, 0))
	e.sync("swap")
	first := "swap-" + minutes(at(10, 1, 0))
	e.client.ClearActions()

	e.clock.SetTime(at(10, 2, 0))
	e.sync("swap")
	second := "swap-" + minutes(at(10, 2, 0))
	if names := e.jobNames(); !slices.Equal(names, []string{second}) {
		t.Fatalf("jobs %v, want only %s", names, second)
	}
	var deleted bool
	for _, a := range e.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.Name == first {
			deleted = true
			if p := d.DeleteOptions.PropagationPolicy; p == nil || *p != metav1.DeletePropagationBackground {
				t.Errorf("deleted with propagation %v, want Background", p)
			}
		}
	}
	if !deleted {
		t.Errorf("no delete of %s among %v", first, e.client.Actions())
	}
	if st := e.cronJob("swap").Status; len(st.Active) != 1 || st.Active[0].Name != second {
		t.Errorf("active %+v, want only %s", st.Active, second)
	}
	if ev := e.events(); !hasEvent(ev, "Normal SuccessfulDelete Deleted job "+first) {
		t.Errorf("events %q", ev)
	}
}

func TestHistoryLimitsPruneOldest(t *testing.T) {
	e := newEnv(t, at(10, 0, 30))
	cj := newCronJob("hist", "0 0 1 1 *") // not due during the test
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](2)
	cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	cj = e.create(cj)
	job := func(name string, started int, cond batchv1.JobConditionType) {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)},
		}}
		start := metav1.NewTime(at(9, started, 0))
		j.Status.StartTime = &start
		if cond != "" {
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: start}}
		}
		if _, err := e.client.BatchV1().Jobs(ns).Create(e.ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Names out of age order, so that the start time decides.
	job("ok-d", 10, batchv1.JobComplete)
	job("ok-a", 40, batchv1.JobComplete)
	job("ok-c", 20, batchv1.JobComplete)
	job("ok-b", 30, batchv1.JobComplete)
	job("bad-b", 15, batchv1.JobFailed)
	job("bad-a", 25, batchv1.JobFailed)
	job("running", 1, "")
	e.sync("hist")
	want := []string{"bad-a", "ok-a", "ok-b", "running"}
	if names := e.jobNames(); !slices.Equal(names, want) {
		t.Errorf("jobs %v, want %v", names, want)
	}
	ev := e.events()
	for _, gone := range []string{"ok-d", "ok-c", "bad-b"} {
		if !hasEvent(ev, "Normal SuccessfulDelete Deleted job "+gone) {
			t.Errorf("no event for deleting %s: %q", gone, ev)
		}
	}
}

func TestSuspend(t *testing.T) {
	e := newEnv(t, at(10, 0, 30))
	cj := newCronJob("paused", "*/1 * * * *")
	cj.Spec.Suspend = ptr.To(true)
	e.create(cj)
	e.sync("paused")
	e.drainQueue()
	e.clock.SetTime(at(10, 3, 10))
	if e.queued("paused") {
		t.Errorf("a suspended cron job was queued for its schedule")
	}
	e.sync("paused")
	if names := e.jobNames(); len(names) != 0 {
		t.Fatalf("suspended, yet jobs %v", names)
	}

	e.update("paused", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(false) })
	if !e.queued("paused") {
		t.Errorf("resuming did not queue the cron job")
	}
	e.sync("paused")
	// Only the latest missed time runs.
	if names, want := e.jobNames(), "paused-"+minutes(at(10, 3, 0)); !slices.Equal(names, []string{want}) {
		t.Errorf("after resuming, jobs %v, want %s", names, want)
	}
}

func TestStartingDeadlineMissed(t *testing.T) {
	e := newEnv(t, at(10, 0, 30))
	cj := newCronJob("late", "0 * * * *")
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10)
	e.create(cj)

	e.clock.SetTime(at(11, 0, 30)) // 30s late for 11:00
	e.sync("late")
	if names := e.jobNames(); len(names) != 0 {
		t.Fatalf("started past its deadline: %v", names)
	}
	if ev := e.events(); !hasEvent(ev, "Warning MissSchedule Missed scheduled time to start a job: Mon, 02 Mar 2026 11:00:00 +0000") {
		t.Errorf("events %q", ev)
	}
	if st := e.cronJob("late").Status; st.LastScheduleTime != nil {
		t.Errorf("lastScheduleTime %v after a miss", st.LastScheduleTime)
	}

	e.clock.SetTime(at(12, 0, 9)) // within 10s of 12:00
	e.sync("late")
	if names, want := e.jobNames(), "late-"+minutes(at(12, 0, 0)); !slices.Equal(names, []string{want}) {
		t.Errorf("jobs %v, want %s", names, want)
	}
}

func TestTooManyMissedStartTimes(t *testing.T) {
	e := newEnv(t, at(6, 0, 30))
	e.create(newCronJob("behind", "*/1 * * * *"))
	e.clock.SetTime(at(10, 0, 30)) // 240 missed minutes
	e.sync("behind")
	if ev := e.events(); !hasEvent(ev, "Warning TooManyMissedTimes too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew") {
		t.Errorf("events %q", ev)
	}
	if names, want := e.jobNames(), "behind-"+minutes(at(10, 0, 0)); !slices.Equal(names, []string{want}) {
		t.Errorf("jobs %v, want only the latest, %s", names, want)
	}
}

func TestTimeZone(t *testing.T) {
	// 08:00 in New York (EDT, UTC-4).
	e := newEnv(t, time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	cj := newCronJob("ny", "0 9 * * *")
	cj.Spec.TimeZone = ptr.To("America/New_York")
	e.create(cj)
	e.sync("ny")
	e.drainQueue()

	e.clock.SetTime(time.Date(2026, 7, 1, 12, 59, 59, 0, time.UTC))
	if e.queued("ny") {
		t.Fatalf("woken before 09:00 in New York")
	}
	e.clock.SetTime(time.Date(2026, 7, 1, 13, 0, 1, 0, time.UTC))
	if !e.queued("ny") {
		t.Fatalf("not woken at 09:00 in New York")
	}
	e.sync("ny")
	scheduled := time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC)
	job := e.jobs()["ny-"+minutes(scheduled)]
	if job == nil {
		t.Fatalf("jobs %v", e.jobNames())
	}
	if got := job.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-07-01T09:00:00-04:00" {
		t.Errorf("scheduled timestamp %q, want New York time", got)
	}
}

func TestMissingActiveJobIsDropped(t *testing.T) {
	e := newEnv(t, at(10, 0, 30))
	e.create(newCronJob("lost", "0 0 1 1 *"))
	e.sync("lost")
	cj := e.cronJob("lost")
	cj.Status.Active = []corev1.ObjectReference{{Kind: "Job", APIVersion: "batch/v1", Namespace: ns, Name: "lost-1", UID: "gone"}}
	if _, err := e.client.BatchV1().CronJobs(ns).UpdateStatus(e.ctx, cj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.sync("lost")
	if st := e.cronJob("lost").Status; len(st.Active) != 0 {
		t.Errorf("active %+v", st.Active)
	}
	if ev := e.events(); !hasEvent(ev, "Normal MissingJob Active job went missing: lost-1") {
		t.Errorf("events %q", ev)
	}
}

// TestRunFiresOnSchedule runs the whole controller, workers and all, and only
// moves the fake clock: the requeue for the next scheduled time makes it fire.
func TestRunFiresOnSchedule(t *testing.T) {
	e := newEnv(t, at(10, 0, 30)) // its controller is not run; another is
	factory := informers.NewSharedInformerFactory(e.client, 0)
	c := New(e.client, factory, Options{Clock: e.clock, Workers: 2})
	controllertest.Run(t, factory, c)
	e.create(newCronJob("tick", "*/1 * * * *"))
	want := "tick-" + minutes(at(10, 1, 0))
	deadline := time.Now().Add(10 * time.Second)
	for e.jobs()[want] == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no job %s by %v; jobs %v", want, e.clock.Now(), e.jobNames())
		}
		// Small steps: the first minute boundary passes within a few dozen.
		if e.clock.Now().Before(at(10, 1, 30)) {
			e.clock.Step(time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		if st := e.cronJob("tick").Status; len(st.Active) == 1 && st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(at(10, 1, 0)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("status %+v", e.cronJob("tick").Status)
}
