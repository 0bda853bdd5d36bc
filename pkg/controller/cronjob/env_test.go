package cronjob

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

const ns = "default"

// env is a controller on a fake clientset whose reactors give objects what the
// API server would (UIDs, resourceVersions, creation times from the fake
// clock). Tests call sync themselves, after moving the clock, so that every
// step is deterministic; events land in a FakeRecorder.
type env struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *testingclock.FakeClock
	c      *Controller
	rec    *record.FakeRecorder

	mu sync.Mutex
	rv int64
}

func newEnv(t *testing.T, now time.Time) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, ctx: ctx, client: fake.NewClientset(), clock: testingclock.NewFakeClock(now)}
	e.client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		m, _ := meta.Accessor(a.(k8stesting.CreateAction).GetObject())
		e.mu.Lock()
		defer e.mu.Unlock()
		e.rv++
		if m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%d", e.rv)))
		}
		if m.GetCreationTimestamp().Time.IsZero() {
			m.SetCreationTimestamp(metav1.NewTime(e.clock.Now()))
		}
		m.SetResourceVersion(strconv.FormatInt(e.rv, 10))
		return false, nil, nil
	})
	e.client.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		m, _ := meta.Accessor(a.(k8stesting.UpdateAction).GetObject())
		e.mu.Lock()
		defer e.mu.Unlock()
		e.rv++
		m.SetResourceVersion(strconv.FormatInt(e.rv, 10))
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(e.client, 0)
	e.c = New(e.client, factory, Options{Clock: e.clock})
	e.rec = record.NewFakeRecorder(1000)
	e.c.recorder = e.rec
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	t.Cleanup(func() {
		cancel()
		e.c.queue.ShutDown()
		factory.Shutdown()
	})
	return e
}

// at is a time on the day the tests run, in UTC.
func at(hh, mm, ss int) time.Time { return time.Date(2026, 3, 2, hh, mm, ss, 0, time.UTC) }

func newCronJob(name, schedule string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.CronJobSpec{
			Schedule:          schedule,
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      map[string]string{"app": name},
					Annotations: map[string]string{"note": "from the template"},
				},
				Spec: batchv1.JobSpec{
					BackoffLimit: ptr.To[int32](2),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
						Spec: corev1.PodSpec{
							RestartPolicy: corev1.RestartPolicyOnFailure,
							Containers:    []corev1.Container{{Name: "tick", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}},
						},
					},
				},
			},
		},
	}
}

func (e *env) create(cj *batchv1.CronJob) *batchv1.CronJob {
	e.t.Helper()
	out, err := e.client.BatchV1().CronJobs(ns).Create(e.ctx, cj, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating cron job: %v", err)
	}
	return out
}

func (e *env) cronJob(name string) *batchv1.CronJob {
	e.t.Helper()
	cj, err := e.client.BatchV1().CronJobs(ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("getting cron job: %v", err)
	}
	return cj
}

func (e *env) update(name string, change func(*batchv1.CronJob)) {
	e.t.Helper()
	cj := e.cronJob(name)
	change(cj)
	if _, err := e.client.BatchV1().CronJobs(ns).Update(e.ctx, cj, metav1.UpdateOptions{}); err != nil {
		e.t.Fatalf("updating cron job: %v", err)
	}
}

// jobs are the Jobs stored, by name.
func (e *env) jobs() map[string]*batchv1.Job {
	e.t.Helper()
	list, err := e.client.BatchV1().Jobs(ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*batchv1.Job{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (e *env) jobNames() []string {
	return sortedKeys(e.jobs())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// finish ends a Job as the Job controller would, at the clock's time.
func (e *env) finish(name string, cond batchv1.JobConditionType) {
	e.t.Helper()
	j, err := e.client.BatchV1().Jobs(ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	now := metav1.NewTime(e.clock.Now())
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: now})
	if cond == batchv1.JobComplete {
		j.Status.CompletionTime = &now
	}
	if _, err := e.client.BatchV1().Jobs(ns).UpdateStatus(e.ctx, j, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// settle waits until the informers' caches hold what the fake API holds.
func (e *env) settle() {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		api, cached := map[string]string{}, map[string]string{}
		cjs, _ := e.client.BatchV1().CronJobs(ns).List(e.ctx, metav1.ListOptions{})
		for _, cj := range cjs.Items {
			api["cj/"+cj.Name] = cj.ResourceVersion
		}
		for _, j := range e.jobs() {
			api["job/"+j.Name] = j.ResourceVersion
		}
		lcjs, _ := e.c.cronJobs.List(labels.Everything())
		for _, cj := range lcjs {
			cached["cj/"+cj.Name] = cj.ResourceVersion
		}
		for _, obj := range e.c.jobs.List() {
			j := obj.(*batchv1.Job)
			cached["job/"+j.Name] = j.ResourceVersion
		}
		if maps.Equal(api, cached) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("caches did not catch up: api %v, cache %v", api, cached)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sync runs one sync of a CronJob on settled caches, as a worker would.
func (e *env) sync(name string) {
	e.t.Helper()
	e.settle()
	if err := e.c.sync(e.ctx, ns+"/"+name); err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	e.settle()
}

// events drains the events recorded so far.
func (e *env) events() []string {
	var out []string
	for {
		select {
		case ev := <-e.rec.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func hasEvent(events []string, want string) bool {
	for _, ev := range events {
		if ev == want {
			return true
		}
	}
	return false
}

// queued reports whether the CronJob's key became ready in the workqueue
// within a short wait (the delaying queue hands keys over asynchronously).
func (e *env) queued(name string) bool {
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		if e.c.queue.Len() > 0 {
			key, _ := e.c.queue.Get()
			e.c.queue.Done(key)
			e.c.queue.Forget(key)
			if key == ns+"/"+name {
				return true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// drainQueue takes every key that is ready now, and those the informers'
// events of the last sync add a moment later (they arrive asynchronously: on
// a busy machine, after the sync returned), until none came for 100ms.
func (e *env) drainQueue() {
	quiet := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(quiet) {
		for e.c.queue.Len() > 0 {
			key, _ := e.c.queue.Get()
			e.c.queue.Done(key)
			e.c.queue.Forget(key)
			quiet = time.Now().Add(100 * time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func minutes(t time.Time) string { return strconv.FormatInt(t.Unix()/60, 10) }
