package podgc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func pod(name, node string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func terminating(p *corev1.Pod) *corev1.Pod {
	p.DeletionTimestamp = &metav1.Time{Time: t0.Add(-time.Minute)}
	p.Finalizers = []string{"example.com/hold"} // keeps it in the fake store as the server would
	return p
}

func node(name string, ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}},
	}
}

var outOfServiceTaint = corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}

// fixture is a controller whose caches the test fills by hand (so that they
// can disagree with the API, as a lagging informer does) over a fake
// clientset, on a fake clock.
type fixture struct {
	t       *testing.T
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	clock   *clocktesting.FakeClock
	c       *Controller

	mu sync.Mutex
	// atDelete is each deleted pod as the store held it when it was deleted:
	// what a watcher saw last.
	atDelete map[string]*corev1.Pod
	graces   map[string]int64
}

func newFixture(t *testing.T, opts Options) *fixture {
	f := &fixture{t: t, client: fake.NewClientset(), clock: clocktesting.NewFakeClock(t0),
		atDelete: map[string]*corev1.Pod{}, graces: map[string]int64{}}
	f.factory = informers.NewSharedInformerFactory(f.client, 0)
	opts.Clock = f.clock
	f.c = New(f.client, f.factory, opts)
	f.client.PrependReactor("delete", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		d := a.(clienttesting.DeleteAction)
		obj, err := f.client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), d.GetNamespace(), d.GetName())
		if err == nil {
			f.mu.Lock()
			f.atDelete[d.GetName()] = obj.(*corev1.Pod)
			if gp := d.GetDeleteOptions().GracePeriodSeconds; gp != nil {
				f.graces[d.GetName()] = *gp
			} else {
				f.graces[d.GetName()] = -1
			}
			f.mu.Unlock()
		}
		// The server honours deletion immediately with grace 0; the fake
		// keeps finalized objects, so remove it outright.
		return true, nil, f.client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), d.GetNamespace(), d.GetName())
	})
	return f
}

// add puts objects in the API and, unless apiOnly, in the cache.
func (f *fixture) add(apiOnly bool, objs ...runtime.Object) {
	f.t.Helper()
	for _, o := range objs {
		if err := f.client.Tracker().Add(o); err != nil {
			f.t.Fatal(err)
		}
		if !apiOnly {
			f.cache(o)
		}
	}
}

// cache puts an object in the informer cache only.
func (f *fixture) cache(o runtime.Object) {
	f.t.Helper()
	var err error
	switch o := o.(type) {
	case *corev1.Pod:
		err = f.factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
	case *corev1.Node:
		err = f.factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) uncacheNode(n *corev1.Node) {
	f.t.Helper()
	if err := f.factory.Core().V1().Nodes().Informer().GetIndexer().Delete(n); err != nil {
		f.t.Fatal(err)
	}
}

// passAt moves the clock to t0+at and runs one pass.
func (f *fixture) passAt(at time.Duration) {
	f.clock.SetTime(t0.Add(at))
	f.c.pass(context.Background())
}

// deleted is the names of the pods deleted so far, sorted.
func (f *fixture) deleted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.atDelete {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (f *fixture) wantDeleted(when string, want ...string) {
	f.t.Helper()
	if got := f.deleted(); !slices.Equal(got, want) {
		f.t.Fatalf("%s: deleted %v, want %v", when, got, want)
	}
	for _, name := range want {
		if g := f.graces[name]; g != 0 {
			f.t.Errorf("%s: pod %s deleted with grace period %d, want 0", when, name, g)
		}
	}
}

// nodeGets is how many GETs of node name the controller made.
func (f *fixture) nodeGets(name string) int {
	n := 0
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "nodes" {
			if a.(clienttesting.GetAction).GetName() == name {
				n++
			}
		}
	}
	return n
}

// statusPatches is the pods whose status the controller patched.
func (f *fixture) statusPatches() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "pods" {
			if a.GetSubresource() != "status" {
				f.t.Errorf("pod patched through %q, want the status subresource", a.GetSubresource())
			}
			out = append(out, a.(clienttesting.PatchAction).GetName())
		}
	}
	slices.Sort(out)
	return out
}

func condition(p *corev1.Pod, ct corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == ct {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// TestOrphanDeletedAfterQuarantine: a pod bound to a node that neither the
// cache nor the API holds is marked Failed with DisruptionTarget and deleted
// with grace 0, but only once the node has been missing for the quarantine
// and a GET confirmed it; a pod on a node that exists is left alone.
func TestOrphanDeletedAfterQuarantine(t *testing.T) {
	f := newFixture(t, Options{})
	ready := pod("ready-cond", "gone", corev1.PodRunning)
	ready.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	f.add(false, node("here", corev1.ConditionTrue), pod("kept", "here", corev1.PodRunning),
		ready, pod("done", "gone", corev1.PodSucceeded))

	f.passAt(0)
	f.passAt(20 * time.Second)
	f.passAt(39 * time.Second)
	f.wantDeleted("within the quarantine")
	if n := f.nodeGets("gone"); n != 0 {
		t.Fatalf("node GET %d times within the quarantine", n)
	}

	f.passAt(40 * time.Second)
	f.wantDeleted("after the quarantine", "done", "ready-cond")
	if n := f.nodeGets("gone"); n != 1 {
		t.Errorf("node GET %d times, want 1", n)
	}
	if got := f.statusPatches(); !slices.Equal(got, []string{"ready-cond"}) {
		t.Errorf("status patched for %v, want only the non-terminal pod", got)
	}
	last := f.atDelete["ready-cond"]
	if last.Status.Phase != corev1.PodFailed {
		t.Errorf("orphan's phase at deletion %q, want Failed", last.Status.Phase)
	}
	dt := condition(last, corev1.DisruptionTarget)
	if dt == nil || dt.Status != corev1.ConditionTrue || dt.Reason != "DeletionByPodGC" || dt.Message != "PodGC: node no longer exists" ||
		!dt.LastTransitionTime.Time.Equal(t0.Add(40*time.Second)) {
		t.Errorf("orphan's DisruptionTarget at deletion %+v", dt)
	}
	if c := condition(last, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("the patch lost the pod's other conditions: %+v", last.Status.Conditions)
	}
	if last := f.atDelete["done"]; last.Status.Phase != corev1.PodSucceeded || condition(last, corev1.DisruptionTarget) != nil {
		t.Errorf("a terminal orphan was changed before deletion: %+v", last.Status)
	}
}

// TestOrphanKeptWhileTheAPIHasItsNode: a node missing from the cache only
// (the cache lags) is found by the GET, and its pods stay; the GET is tried
// again only after a new quarantine.
func TestOrphanKeptWhileTheAPIHasItsNode(t *testing.T) {
	f := newFixture(t, Options{})
	f.add(true, node("lagging", corev1.ConditionTrue))
	f.add(false, pod("p", "lagging", corev1.PodRunning))
	for at := time.Duration(0); at <= 100*time.Second; at += 20 * time.Second {
		f.passAt(at)
	}
	f.wantDeleted("with the node in the API")
	// Seen missing at 0, GET at 40 (found: quarantine again), GET at 80.
	if n := f.nodeGets("lagging"); n != 2 {
		t.Errorf("node GET %d times in 100s, want 2", n)
	}
}

// TestOrphanKeptWhenItsNodeReappears: a node that comes back into the cache
// within the quarantine is forgotten; missing again, it starts a new one.
func TestOrphanKeptWhenItsNodeReappears(t *testing.T) {
	f := newFixture(t, Options{})
	back := node("flaky", corev1.ConditionTrue)
	f.add(false, pod("p", "flaky", corev1.PodRunning))
	f.passAt(0)
	f.passAt(20 * time.Second)
	f.add(false, back) // registered again (a kubelet restarted)
	for at := 40 * time.Second; at <= 100*time.Second; at += 20 * time.Second {
		f.passAt(at)
	}
	f.wantDeleted("with the node back")
	if n := f.nodeGets("flaky"); n != 0 {
		t.Errorf("node GET %d times, want none", n)
	}

	// Deleted for good: a fresh quarantine from the first pass that sees it.
	f.uncacheNode(back)
	if err := f.client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("nodes"), "", "flaky"); err != nil {
		t.Fatal(err)
	}
	f.passAt(120 * time.Second)
	f.passAt(140 * time.Second)
	f.wantDeleted("within the new quarantine")
	f.passAt(160 * time.Second)
	f.wantDeleted("after the new quarantine", "p")
}

// TestTerminatedOverThresholdOldestFirst: beyond the threshold, evicted pods
// go first, then the oldest; running pods never count, and terminal pods are
// deleted as they are.
func TestTerminatedOverThresholdOldestFirst(t *testing.T) {
	f := newFixture(t, Options{TerminatedPodThreshold: 3})
	f.add(false, node("n", corev1.ConditionTrue))
	aged := func(name string, phase corev1.PodPhase, age time.Duration) *corev1.Pod {
		p := pod(name, "n", phase)
		p.CreationTimestamp = metav1.NewTime(t0.Add(-age))
		return p
	}
	ev := aged("evicted-newest", corev1.PodFailed, time.Minute)
	ev.Status.Reason = "Evicted"
	f.add(false,
		aged("oldest", corev1.PodSucceeded, 5*time.Hour),
		aged("older", corev1.PodFailed, 4*time.Hour),
		aged("mid", corev1.PodSucceeded, 3*time.Hour),
		aged("young-b", corev1.PodSucceeded, 2*time.Hour),
		aged("young-a", corev1.PodFailed, 2*time.Hour),
		ev,
		aged("running-ancient", corev1.PodRunning, 100*time.Hour),
		aged("pending-ancient", corev1.PodPending, 100*time.Hour),
	)
	f.passAt(0)
	// Six terminated, three kept: the evicted one, then the two oldest.
	f.wantDeleted("first pass", "evicted-newest", "older", "oldest")
	if got := f.statusPatches(); len(got) != 0 {
		t.Errorf("terminal pods patched: %v", got)
	}
}

// TestTerminatedThresholdOff: a negative threshold keeps every terminated pod.
func TestTerminatedThresholdOff(t *testing.T) {
	f := newFixture(t, Options{TerminatedPodThreshold: -1})
	f.add(false, node("n", corev1.ConditionTrue), pod("a", "n", corev1.PodSucceeded), pod("b", "n", corev1.PodFailed))
	f.passAt(0)
	f.wantDeleted("threshold off")
	if New(f.client, f.factory, Options{}).opts.TerminatedPodThreshold != 12500 {
		t.Error("default threshold is not upstream's 12500")
	}
}

// TestUnscheduledTerminatingForceDeleted: a terminating pod that was never
// bound has no kubelet to finish it: it is marked Failed and deleted at once.
// A terminating pod on a healthy node is its kubelet's to finish.
func TestUnscheduledTerminatingForceDeleted(t *testing.T) {
	f := newFixture(t, Options{})
	f.add(false, node("n", corev1.ConditionTrue),
		terminating(pod("unscheduled", "", corev1.PodPending)),
		pod("unscheduled-alive", "", corev1.PodPending),
		terminating(pod("on-node", "n", corev1.PodRunning)))
	f.passAt(0)
	f.wantDeleted("first pass", "unscheduled")
	last := f.atDelete["unscheduled"]
	if last.Status.Phase != corev1.PodFailed || condition(last, corev1.DisruptionTarget) != nil {
		t.Errorf("unscheduled pod at deletion: phase %q conditions %+v, want Failed and no DisruptionTarget",
			last.Status.Phase, last.Status.Conditions)
	}
}

// TestOutOfServiceTerminatingForceDeleted: terminating pods on a node that is
// not Ready and tainted out-of-service are marked Failed and force-deleted;
// without either, or without a deletion under way, they stay.
func TestOutOfServiceTerminatingForceDeleted(t *testing.T) {
	f := newFixture(t, Options{})
	f.add(false,
		node("down", corev1.ConditionFalse, outOfServiceTaint),
		node("unknown", corev1.ConditionUnknown, corev1.Taint{Key: corev1.TaintNodeOutOfService, Effect: corev1.TaintEffectNoSchedule}),
		node("notready", corev1.ConditionFalse),
		node("ready-tainted", corev1.ConditionTrue, outOfServiceTaint),
		terminating(pod("on-down", "down", corev1.PodRunning)),
		terminating(pod("on-unknown", "unknown", corev1.PodRunning)),
		terminating(pod("done-on-down", "down", corev1.PodSucceeded)),
		pod("alive-on-down", "down", corev1.PodRunning),
		terminating(pod("on-notready", "notready", corev1.PodRunning)),
		terminating(pod("on-ready-tainted", "ready-tainted", corev1.PodRunning)),
	)
	f.passAt(0)
	f.wantDeleted("first pass", "done-on-down", "on-down", "on-unknown")
	if got := f.statusPatches(); !slices.Equal(got, []string{"on-down", "on-unknown"}) {
		t.Errorf("status patched for %v", got)
	}
	if last := f.atDelete["on-down"]; last.Status.Phase != corev1.PodFailed || condition(last, corev1.DisruptionTarget) != nil {
		t.Errorf("on-down at deletion: %+v", last.Status)
	}
}

// TestReplacedPodIsNotDeleted: a pod deleted and made again under the same
// name since the cache saw it (a StatefulSet's) is refused by the UID
// precondition of the patch, and is not deleted.
func TestReplacedPodIsNotDeleted(t *testing.T) {
	f := newFixture(t, Options{})
	stale := terminating(pod("web-0", "", corev1.PodPending))
	f.cache(stale)
	fresh := pod("web-0", "", corev1.PodPending)
	fresh.UID = "uid-new"
	f.add(true, fresh)
	f.client.PrependReactor("patch", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if p := string(a.(clienttesting.PatchAction).GetPatch()); !strings.Contains(p, `"uid":"uid-web-0"`) {
			return true, nil, fmt.Errorf("patch without the cached UID: %s", p)
		}
		return true, nil, apierrors.NewConflict(corev1.Resource("pods"), "web-0", fmt.Errorf("Precondition failed: UID"))
	})
	f.passAt(0)
	f.wantDeleted("after a UID conflict")
}

// TestRunCollectsOnTheTicker: Run passes once when the caches sync and then
// every CheckPeriod of its clock.
func TestRunCollectsOnTheTicker(t *testing.T) {
	client := fake.NewClientset(pod("orphan", "gone", corev1.PodRunning))
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	c := New(client, factory, Options{Clock: clk})
	controllertest.Run(t, factory, c)
	podGone := func() bool {
		_, err := client.CoreV1().Pods("default").Get(t.Context(), "orphan", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	// The first pass is done once the ticker waits.
	waitFor("the first pass", clk.HasWaiters)
	clk.Step(20 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if podGone() {
		t.Fatal("orphan deleted 20s into its quarantine")
	}
	clk.Step(20 * time.Second)
	waitFor("the orphan to be deleted at 40s", podGone)
}
