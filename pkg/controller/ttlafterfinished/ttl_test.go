package ttlafterfinished

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
)

const ns = "default"

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type env struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *testingclock.FakeClock

	mu      sync.Mutex
	rv      int
	deletes []metav1.DeleteOptions
}

// newEnv runs the controller on a fake clientset whose reactors set UIDs and
// resourceVersions and record each delete's options.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), client: fake.NewClientset(), clock: testingclock.NewFakeClock(start)}
	stamp := func(obj runtime.Object) {
		m, _ := meta.Accessor(obj)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.rv++
		if m.GetUID() == "" {
			m.SetUID(types.UID("uid-" + strconv.Itoa(e.rv)))
		}
		m.SetResourceVersion(strconv.Itoa(e.rv))
	}
	e.client.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		stamp(a.(k8stesting.CreateAction).GetObject())
		return false, nil, nil
	})
	e.client.PrependReactor("update", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		stamp(a.(k8stesting.UpdateAction).GetObject())
		return false, nil, nil
	})
	e.client.PrependReactor("delete", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.deletes = append(e.deletes, d.DeleteOptions)
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(e.client, 0)
	c := New(e.client, factory, Options{Clock: e.clock})
	controllertest.Run(t, factory, c)
	return e
}

// createJob stores a Job that finished (cond) at finished, or a running one
// when cond is empty.
func (e *env) createJob(name string, ttl *int32, cond batchv1.JobConditionType, finished time.Time) *batchv1.Job {
	e.t.Helper()
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(finished)}}
	}
	out, err := e.client.BatchV1().Jobs(ns).Create(e.ctx, j, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) exists(name string) bool {
	e.t.Helper()
	_, err := e.client.BatchV1().Jobs(ns).Get(e.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return true
}

// gone waits a little for a Job to be deleted.
func (e *env) gone(name string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		if !e.exists(name) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitQueued waits until the controller has queued a Job's expiry:
// the clock's waiters are the workqueue's heartbeat and its next timer.
func (e *env) waitQueued() {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.clock.Waiters() < 2 {
		if time.Now().After(deadline) {
			e.t.Fatalf("no expiry queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeletesAtExpiryNotBefore(t *testing.T) {
	for _, cond := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
		t.Run(string(cond), func(t *testing.T) {
			e := newEnv(t)
			job := e.createJob("done", ptr.To[int32](60), cond, start.Add(-10*time.Second)) // expires at start+50s
			e.waitQueued()
			e.clock.Step(49 * time.Second)
			if e.gone("done", 200*time.Millisecond) {
				t.Fatalf("deleted a second before its TTL ran out")
			}
			e.clock.Step(time.Second)
			if !e.gone("done", 5*time.Second) {
				t.Fatalf("not deleted when its TTL ran out")
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			if len(e.deletes) != 1 {
				t.Fatalf("deletes %+v, want one", e.deletes)
			}
			o := e.deletes[0]
			if p := o.PropagationPolicy; p == nil || *p != metav1.DeletePropagationForeground {
				t.Errorf("propagation %v, want Foreground", p)
			}
			if p := o.Preconditions; p == nil || p.UID == nil || *p.UID != job.UID || p.ResourceVersion == nil || *p.ResourceVersion != job.ResourceVersion {
				t.Errorf("preconditions %+v, want UID %s and resourceVersion %s", p, job.UID, job.ResourceVersion)
			}
		})
	}
}

func TestExpiredAtStartIsDeletedAtOnce(t *testing.T) {
	e := newEnv(t)
	e.createJob("old", ptr.To[int32](0), batchv1.JobComplete, start.Add(-time.Hour))
	if !e.gone("old", 5*time.Second) {
		t.Fatalf("an expired job was kept")
	}
}

func TestKeepsJobsWithoutTTLOrRunning(t *testing.T) {
	e := newEnv(t)
	e.createJob("no-ttl", nil, batchv1.JobComplete, start.Add(-time.Hour))
	e.createJob("running", ptr.To[int32](0), "", time.Time{})
	e.clock.Step(time.Hour)
	time.Sleep(200 * time.Millisecond)
	for _, name := range []string{"no-ttl", "running"} {
		if !e.exists(name) {
			t.Errorf("%s was deleted", name)
		}
	}

	// The running one finishes: now its TTL of 0 applies.
	j, err := e.client.BatchV1().Jobs(ns).Get(e.ctx, "running", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(e.clock.Now())}}
	if _, err := e.client.BatchV1().Jobs(ns).UpdateStatus(e.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !e.gone("running", 5*time.Second) {
		t.Errorf("not deleted once finished")
	}
}

func TestRaisedTTLIsHonoured(t *testing.T) {
	e := newEnv(t)
	e.createJob("kept", ptr.To[int32](30), batchv1.JobComplete, start)
	e.waitQueued()
	j, err := e.client.BatchV1().Jobs(ns).Get(e.ctx, "kept", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](120)
	if _, err := e.client.BatchV1().Jobs(ns).Update(e.ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the informer see the update
	e.clock.Step(31 * time.Second)
	if e.gone("kept", 200*time.Millisecond) {
		t.Fatalf("deleted at its old TTL")
	}
	e.clock.Step(90 * time.Second)
	if !e.gone("kept", 5*time.Second) {
		t.Fatalf("not deleted at its new TTL")
	}
}
