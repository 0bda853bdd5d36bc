package disruption_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/disruption"
)

const ns = "default"

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type env struct {
	t      *testing.T
	client *fake.Clientset
	clock  *testingclock.FakeClock
}

// newEnv runs the controller on a fake clientset holding objs.
func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	e := &env{t: t, client: fake.NewClientset(objs...), clock: testingclock.NewFakeClock(start)}
	factory := informers.NewSharedInformerFactory(e.client, 0)
	ctrl := disruption.New(e.client, factory, disruption.Options{Clock: e.clock})
	controllertest.Run(t, factory, ctrl)
	return e
}

// waitStatus waits until the budget's status satisfies ok.
func (e *env) waitStatus(name string, ok func(policyv1.PodDisruptionBudgetStatus) bool) policyv1.PodDisruptionBudgetStatus {
	e.t.Helper()
	var last policyv1.PodDisruptionBudgetStatus
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pdb, err := e.client.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = pdb.Status
			if ok(last) {
				return last
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("budget %s: status never as wanted; last:\n%s", name, describe(last))
	return last
}

func describe(st policyv1.PodDisruptionBudgetStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "observedGeneration=%d healthy=%d desired=%d expected=%d allowed=%d disrupted=%v\n",
		st.ObservedGeneration, st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods, st.DisruptionsAllowed, st.DisruptedPods)
	for _, c := range st.Conditions {
		fmt.Fprintf(&b, "  %s=%s %s %q\n", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// counts is the part of a status most tests check.
type counts struct{ healthy, desired, expected, allowed int32 }

func countsOf(st policyv1.PodDisruptionBudgetStatus) counts {
	return counts{st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods, st.DisruptionsAllowed}
}

func condition(st policyv1.PodDisruptionBudgetStatus) (metav1.ConditionStatus, string, string) {
	for _, c := range st.Conditions {
		if c.Type == policyv1.DisruptionAllowedCondition {
			return c.Status, c.Reason, c.Message
		}
	}
	return "", "", ""
}

func budget(name string, minAvailable, maxUnavailable *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1},
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			MinAvailable:   minAvailable,
			MaxUnavailable: maxUnavailable,
		},
	}
}

func intOrPercent(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

type podOpt func(*corev1.Pod)

func ready(p *corev1.Pod) {
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
}

func ownedBy(kind, apiVersion, name string) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name,
			UID: types.UID(name + "-uid"), Controller: ptr.To(true)}}
	}
}

func terminating(p *corev1.Pod) {
	ts := metav1.NewTime(start)
	p.DeletionTimestamp = &ts
}

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid")}
}

func replicaSet(name string, replicas int32, deployment string) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: meta(name), Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas)}}
	if deployment != "" {
		rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: deployment,
			UID: types.UID(deployment + "-uid"), Controller: ptr.To(true)}}
	}
	return rs
}

// TestBudgetCounts: the status upstream computes for each way of writing a
// budget and each kind of controller.
func TestBudgetCounts(t *testing.T) {
	rsPod := ownedBy("ReplicaSet", "apps/v1", "web-rs")
	cases := []struct {
		name string
		pdb  *policyv1.PodDisruptionBudget
		objs []runtime.Object
		want counts
	}{{
		name: "integer minAvailable counts the selected pods",
		pdb:  budget("b", intOrPercent("2"), nil),
		objs: []runtime.Object{pod("a", ready), pod("b", ready), pod("c", ready), pod("d")},
		want: counts{healthy: 3, desired: 2, expected: 4, allowed: 1},
	}, {
		name: "terminating pods are not healthy",
		pdb:  budget("b", intOrPercent("2"), nil),
		objs: []runtime.Object{pod("a", ready), pod("b", ready), pod("c", ready, terminating)},
		want: counts{healthy: 2, desired: 2, expected: 3, allowed: 0},
	}, {
		name: "percentage minAvailable of a Deployment, through its ReplicaSet",
		pdb:  budget("b", intOrPercent("50%"), nil),
		objs: []runtime.Object{
			&appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](5)}},
			replicaSet("web-rs", 5, "web"),
			pod("a", ready, rsPod), pod("b", ready, rsPod), pod("c", ready, rsPod), pod("d", ready, rsPod),
		},
		want: counts{healthy: 4, desired: 3, expected: 5, allowed: 1}, // 50% of 5 rounds up
	}, {
		name: "maxUnavailable of a ReplicaSet",
		pdb:  budget("b", nil, intOrPercent("1")),
		objs: []runtime.Object{replicaSet("web-rs", 3, ""), pod("a", ready, rsPod), pod("b", ready, rsPod), pod("c", ready, rsPod)},
		want: counts{healthy: 3, desired: 2, expected: 3, allowed: 1},
	}, {
		name: "maxUnavailable percentage of a StatefulSet and an RC together",
		pdb:  budget("b", nil, intOrPercent("30%")),
		objs: []runtime.Object{
			&appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](4)}},
			&corev1.ReplicationController{ObjectMeta: meta("kubia"), Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](2)}},
			pod("db-0", ready, ownedBy("StatefulSet", "apps/v1", "db")), pod("db-1", ready, ownedBy("StatefulSet", "apps/v1", "db")),
			pod("kubia-x", ready, ownedBy("ReplicationController", "v1", "kubia")),
		},
		want: counts{healthy: 3, desired: 4, expected: 6, allowed: 0}, // 30% of 6 rounds up to 2
	}, {
		name: "no pods: nothing allowed",
		pdb:  budget("b", nil, intOrPercent("1")),
		want: counts{},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, append(tc.objs, tc.pdb)...)
			st := e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool { return st.ObservedGeneration == 1 })
			if got := countsOf(st); got != tc.want {
				t.Fatalf("status %+v, want %+v\n%s", got, tc.want, describe(st))
			}
			status, reason, _ := condition(st)
			wantStatus, wantReason := metav1.ConditionFalse, policyv1.InsufficientPodsReason
			if tc.want.allowed > 0 {
				wantStatus, wantReason = metav1.ConditionTrue, policyv1.SufficientPodsReason
			}
			if status != wantStatus || reason != wantReason {
				t.Fatalf("condition %s %s, want %s %s", status, reason, wantStatus, wantReason)
			}
		})
	}
}

// TestSyncFailed: a percentage budget over pods whose controller has no scale
// or cannot be found allows nothing, and says why.
func TestSyncFailed(t *testing.T) {
	cases := []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"a Job has no scale", []runtime.Object{&batchv1.Job{ObjectMeta: meta("batch")}, pod("a", ready, ownedBy("Job", "batch/v1", "batch"))},
			"jobs.batch does not implement the scale subresource"},
		{"the ReplicaSet is gone", []runtime.Object{pod("a", ready, ownedBy("ReplicaSet", "apps/v1", "web-rs"))},
			`found no controllers for pod "a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pdb := budget("b", intOrPercent("50%"), nil)
			pdb.Status.DisruptionsAllowed = 3 // left from a better time
			e := newEnv(t, append(tc.objs, pdb)...)
			st := e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool {
				s, _, _ := condition(st)
				return s != ""
			})
			status, reason, msg := condition(st)
			if status != metav1.ConditionFalse || reason != policyv1.SyncFailedReason || msg != tc.want {
				t.Fatalf("condition %s %s %q, want False SyncFailed %q", status, reason, msg, tc.want)
			}
			if st.DisruptionsAllowed != 0 {
				t.Fatalf("disruptionsAllowed %d after a failed sync, want 0", st.DisruptionsAllowed)
			}
		})
	}
}

// TestDisruptedPods: pods the eviction subresource approved count as not
// healthy until they are deleted or DeletionTimeout passes; entries of pods
// that are gone or terminating are dropped.
func TestDisruptedPods(t *testing.T) {
	pdb := budget("b", intOrPercent("1"), nil)
	pdb.Status.DisruptedPods = map[string]metav1.Time{
		"a":    metav1.NewTime(start.Add(-time.Minute)),     // recent: still disrupted
		"b":    metav1.NewTime(start.Add(-3 * time.Minute)), // too old: assumed not coming
		"c":    metav1.NewTime(start.Add(-time.Minute)),     // terminating already
		"gone": metav1.NewTime(start.Add(-time.Minute)),
	}
	e := newEnv(t, pdb, pod("a", ready), pod("b", ready), pod("c", ready, terminating), pod("d", ready))
	st := e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool { return st.ObservedGeneration == 1 })
	if got, want := countsOf(st), (counts{healthy: 2, desired: 1, expected: 4, allowed: 1}); got != want {
		t.Fatalf("status %+v, want %+v\n%s", got, want, describe(st))
	}
	if len(st.DisruptedPods) != 1 || !st.DisruptedPods["a"].Time.Equal(start.Add(-time.Minute)) {
		t.Fatalf("disruptedPods %v, want only a", st.DisruptedPods)
	}

	// Once its minute more has passed, a counts again.
	e.waitForWaiters()
	e.clock.Step(time.Minute + time.Second)
	st = e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool { return len(st.DisruptedPods) == 0 })
	if got, want := countsOf(st), (counts{healthy: 3, desired: 1, expected: 4, allowed: 2}); got != want {
		t.Fatalf("after the timeout: status %+v, want %+v\n%s", got, want, describe(st))
	}
}

// waitForWaiters waits until the controller's queue waits on the fake clock.
func (e *env) waitForWaiters() {
	deadline := time.Now().Add(5 * time.Second)
	for !e.clock.HasWaiters() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPodChangesRequeue: a pod that becomes ready, one that leaves the
// selector, and a budget's new spec are all seen.
func TestPodChangesRequeue(t *testing.T) {
	ctx := context.Background()
	pdb := budget("b", intOrPercent("1"), nil)
	e := newEnv(t, pdb, pod("a", ready), pod("b"))
	e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool { return countsOf(st) == counts{1, 1, 2, 0} })

	pods := e.client.CoreV1().Pods(ns)
	p, _ := pods.Get(ctx, "b", metav1.GetOptions{})
	ready(p)
	p.ResourceVersion = "2"
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st := e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool { return countsOf(st) == counts{2, 1, 2, 1} })
	if status, reason, _ := condition(st); status != metav1.ConditionTrue || reason != policyv1.SufficientPodsReason {
		t.Fatalf("condition %s %s, want True SufficientPods", status, reason)
	}

	p, _ = pods.Get(ctx, "a", metav1.GetOptions{})
	p.Labels = map[string]string{"app": "other"}
	p.ResourceVersion = "3"
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool { return countsOf(st) == counts{1, 1, 1, 0} })

	cur, _ := e.client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "b", metav1.GetOptions{})
	cur.Spec.MinAvailable = intOrPercent("0")
	cur.Generation = 2
	if _, err := e.client.PolicyV1().PodDisruptionBudgets(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("b", func(st policyv1.PodDisruptionBudgetStatus) bool {
		return st.ObservedGeneration == 2 && countsOf(st) == counts{1, 0, 1, 1}
	})
}

// TestStaleDisruptionTarget: a pod left with a True DisruptionTarget condition
// (its eviction's delete never came) has it set False once
// StaleDisruptionTimeout has passed; a terminating pod keeps it.
func TestStaleDisruptionTarget(t *testing.T) {
	marked := func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "EvictionByEvictionAPI", LastTransitionTime: metav1.NewTime(start.Add(-time.Minute))})
	}
	e := newEnv(t, pod("left", ready, marked), pod("going", ready, marked, terminating))
	target := func(name string) corev1.PodCondition {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.DisruptionTarget {
				return c
			}
		}
		return corev1.PodCondition{}
	}
	time.Sleep(100 * time.Millisecond)
	if c := target("left"); c.Status != corev1.ConditionTrue {
		t.Fatalf("cleared before its time: %+v", c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for target("left").Status != corev1.ConditionFalse {
		if time.Now().After(deadline) {
			t.Fatalf("DisruptionTarget never cleared: %+v", target("left"))
		}
		e.clock.Step(20 * time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	if c := target("left"); c.Reason != "" || c.Message != "" {
		t.Fatalf("cleared condition %+v, want no reason", c)
	}
	if c := target("going"); c.Status != corev1.ConditionTrue {
		t.Fatalf("a terminating pod's condition changed: %+v", c)
	}
}
