package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// webSelector is set-based: app=web, tier in (a, b), and no legacy label.
func webSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{
		MatchLabels: map[string]string{"app": "web"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
			{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
		},
	}
}

func newRS(name string, n int32, sel *metav1.LabelSelector) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Generation: 5},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &n,
			Selector: sel,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "a"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "luksa/kubia"}}},
			},
		},
	}
}

// labelled gives a pod its namespace and labels.
func labelled(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Namespace, p.Labels = "default", map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

// ownedBy makes a pod controlled by owner (of the given kind).
func ownedBy(owner metav1.Object, gvk schema.GroupVersionKind) podOpt {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)}
	}
}

func deleting(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }

// nameGenerated makes the fake API name the pods created with a generateName.
func nameGenerated(client *fake.Clientset) {
	var n atomic.Int64
	client.PrependReactor("create", "pods", func(action clienttesting.Action) (bool, runtime.Object, error) {
		pod := action.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			i := n.Add(1)
			pod.Name, pod.UID = fmt.Sprintf("%s%05d", pod.GenerateName, i), types.UID(fmt.Sprint("created-", i))
		}
		return false, nil, nil
	})
}

// rsFixture is a ReplicaSet controller that is not running, its caches and a
// fake API holding the same objects, and a clock stopped at t0.
type rsFixture struct {
	c      *Controller
	client *fake.Clientset
	rss    cache.Store
	events *record.FakeRecorder
}

func newRSFixture(t *testing.T, objs ...runtime.Object) *rsFixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	nameGenerated(client)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := NewReplicaSets(client, factory, Options{})
	t.Cleanup(c.queue.ShutDown)
	events := record.NewFakeRecorder(100)
	c.recorder.EventRecorder = events
	c.now = func() time.Time { return t0 }
	for _, obj := range objs {
		store := factory.Core().V1().Pods().Informer().GetStore()
		if _, ok := obj.(*appsv1.ReplicaSet); ok {
			store = factory.Apps().V1().ReplicaSets().Informer().GetStore()
		}
		if err := store.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	return &rsFixture{c: c, client: client, rss: factory.Apps().V1().ReplicaSets().Informer().GetStore(), events: events}
}

func (f *rsFixture) sync(t *testing.T, rs *appsv1.ReplicaSet) error {
	t.Helper()
	f.client.ClearActions()
	return f.c.sync(context.Background(), rs.Namespace+"/"+rs.Name)
}

// writes are what the last sync asked of the API: pods created, deleted,
// adopted and released (by name), and the statuses it wrote.
type writes struct {
	created                    []*corev1.Pod
	deleted, adopted, released []string
	statuses                   []*appsv1.ReplicaSet
}

func (f *rsFixture) writes(t *testing.T) writes {
	t.Helper()
	var w writes
	for _, a := range f.client.Actions() {
		switch a.GetVerb() {
		case "create":
			if pod, ok := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod); ok {
				w.created = append(w.created, pod)
			}
		case "delete":
			w.deleted = append(w.deleted, a.(clienttesting.DeleteAction).GetName())
		case "patch":
			a := a.(clienttesting.PatchAction)
			if strings.Contains(string(a.GetPatch()), `"$patch":"delete"`) {
				w.released = append(w.released, a.GetName())
			} else {
				w.adopted = append(w.adopted, a.GetName())
			}
		case "update":
			if rs, ok := a.(clienttesting.UpdateAction).GetObject().(*appsv1.ReplicaSet); ok && a.GetSubresource() == "status" {
				w.statuses = append(w.statuses, rs)
			}
		}
	}
	for _, s := range [][]string{w.deleted, w.adopted, w.released} {
		slices.Sort(s)
	}
	return w
}

func TestReplicaSetSync(t *testing.T) {
	other := newRS("other", 1, webSelector())
	for _, tc := range []struct {
		name     string
		rs       *appsv1.ReplicaSet
		pods     func(rs *appsv1.ReplicaSet) []*corev1.Pod
		creates  int
		deleted  string
		adopted  string
		released string
		replicas int32 // status.replicas: the pods claimed before any create or delete
	}{
		{
			name: "creates up to spec.replicas", rs: newRS("web", 3, webSelector()),
			pods:    func(*appsv1.ReplicaSet) []*corev1.Pod { return nil },
			creates: 3,
		},
		{
			name: "scale down takes the least valuable first", rs: newRS("web", 1, webSelector()),
			pods: func(rs *appsv1.ReplicaSet) []*corev1.Pod {
				return []*corev1.Pod{
					mkPod("ready", labelled("app", "web", "tier", "a"), ownedBy(rs, rsKind), on("n1"), phase(corev1.PodRunning), readyFor(time.Hour)),
					mkPod("running", labelled("app", "web", "tier", "a"), ownedBy(rs, rsKind), on("n2"), phase(corev1.PodRunning)),
					mkPod("unscheduled", labelled("app", "web", "tier", "b"), ownedBy(rs, rsKind)),
				}
			},
			deleted: "running,unscheduled", replicas: 3,
		},
		{
			name: "adopts the orphans a set-based selector matches", rs: newRS("web", 2, webSelector()),
			pods: func(*appsv1.ReplicaSet) []*corev1.Pod {
				return []*corev1.Pod{
					mkPod("tier-a", labelled("app", "web", "tier", "a")),
					mkPod("tier-b", labelled("app", "web", "tier", "b")),
					mkPod("tier-c", labelled("app", "web", "tier", "c")),
					mkPod("legacy", labelled("app", "web", "tier", "a", "legacy", "yes")),
					mkPod("no-tier", labelled("app", "web")),
					mkPod("other-app", labelled("app", "db", "tier", "a")),
				}
			},
			adopted: "tier-a,tier-b", replicas: 2,
		},
		{
			name: "releases pods that stop matching, and replaces them", rs: newRS("web", 2, webSelector()),
			pods: func(rs *appsv1.ReplicaSet) []*corev1.Pod {
				return []*corev1.Pod{
					mkPod("still", labelled("app", "web", "tier", "b"), ownedBy(rs, rsKind)),
					mkPod("moved", labelled("app", "web", "tier", "c"), ownedBy(rs, rsKind)),
					mkPod("retired", labelled("app", "web", "tier", "a", "legacy", "yes"), ownedBy(rs, rsKind)),
				}
			},
			released: "moved,retired", creates: 1, replicas: 1,
		},
		{
			name: "leaves another controller's pods alone", rs: newRS("web", 1, webSelector()),
			pods: func(*appsv1.ReplicaSet) []*corev1.Pod {
				return []*corev1.Pod{
					mkPod("theirs", labelled("app", "web", "tier", "a"), ownedBy(other, rsKind)),
					mkPod("an-rc's", labelled("app", "web", "tier", "a"), ownedBy(other, rcKind)),
				}
			},
			creates: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{tc.rs, other}
			for _, p := range tc.pods(tc.rs) {
				objs = append(objs, p)
			}
			f := newRSFixture(t, objs...)
			if err := f.sync(t, tc.rs); err != nil {
				t.Fatalf("sync: %v", err)
			}
			w := f.writes(t)
			if len(w.created) != tc.creates || strings.Join(w.deleted, ",") != tc.deleted ||
				strings.Join(w.adopted, ",") != tc.adopted || strings.Join(w.released, ",") != tc.released {
				t.Errorf("created %d, deleted %v, adopted %v, released %v; want %d, [%s], [%s], [%s]",
					len(w.created), w.deleted, w.adopted, w.released, tc.creates, tc.deleted, tc.adopted, tc.released)
			}
			for _, p := range w.created {
				ref := metav1.GetControllerOf(p)
				if p.GenerateName != "web-" || ref == nil || ref.APIVersion != "apps/v1" || ref.Kind != "ReplicaSet" ||
					ref.Name != "web" || ref.UID != tc.rs.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
					t.Errorf("created pod %+v", p.ObjectMeta)
				}
			}
			for _, name := range w.adopted {
				pod, err := f.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
				if ref := metav1.GetControllerOf(pod); err != nil || ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || ref.UID != tc.rs.UID {
					t.Errorf("adopted pod %s: %v, ownerReferences %+v", name, err, pod.OwnerReferences)
				}
			}
			for _, name := range w.released {
				if pod, err := f.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{}); err != nil || len(pod.OwnerReferences) != 0 {
					t.Errorf("released pod %s: %v, ownerReferences %+v", name, err, pod.OwnerReferences)
				}
			}
			if len(w.statuses) != 1 {
				t.Fatalf("%d status writes, want 1", len(w.statuses))
			}
			if st := w.statuses[0].Status; st.Replicas != tc.replicas || st.ObservedGeneration != 5 {
				t.Errorf("status %+v, want %d replicas, observedGeneration 5", st, tc.replicas)
			}
		})
	}
}

// TestReplicaSetStatus: the counts a Deployment rolls out by, with
// minReadySeconds, and terminatingReplicas (on by default since upstream 1.35).
func TestReplicaSetStatus(t *testing.T) {
	rs := newRS("web", 3, webSelector())
	rs.Generation, rs.Spec.MinReadySeconds = 7, 10
	rs.Spec.Template.Labels["release"] = "canary"
	web := func(extra ...string) podOpt {
		return labelled(append([]string{"app", "web", "tier", "a"}, extra...)...)
	}
	f := newRSFixture(t, rs,
		mkPod("available", web("release", "canary"), ownedBy(rs, rsKind), on("n1"), phase(corev1.PodRunning), readyFor(time.Minute)),
		mkPod("just-ready", web(), ownedBy(rs, rsKind), on("n1"), phase(corev1.PodRunning), readyFor(time.Second)),
		mkPod("pending", web("release", "canary"), ownedBy(rs, rsKind)),
		mkPod("terminating", web(), ownedBy(rs, rsKind), on("n1"), phase(corev1.PodRunning), deleting),
		mkPod("terminating-unmatched", labelled("app", "web", "tier", "z"), ownedBy(rs, rsKind), deleting),
		mkPod("failed", web(), ownedBy(rs, rsKind), phase(corev1.PodFailed)),
	)
	if err := f.sync(t, rs); err != nil {
		t.Fatal(err)
	}
	w := f.writes(t)
	if len(w.created)+len(w.deleted) != 0 || len(w.statuses) != 1 {
		t.Fatalf("writes %+v, want one status update only", w)
	}
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1,
		TerminatingReplicas: ptr.To(int32(1)), ObservedGeneration: 7}
	if got := w.statuses[0].Status; !equalRSStatus(got, want) {
		t.Errorf("status %s, want %s", fmtRSStatus(got), fmtRSStatus(want))
	}
	// Written back into the cache, the same status needs no second write.
	if err := f.rss.Update(w.statuses[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.sync(t, rs); err != nil {
		t.Fatal(err)
	}
	if w := f.writes(t); len(w.statuses) != 0 {
		t.Errorf("a second sync wrote the status again: %s", fmtRSStatus(w.statuses[0].Status))
	}
}

func equalRSStatus(a, b appsv1.ReplicaSetStatus) bool {
	return a.Replicas == b.Replicas && a.FullyLabeledReplicas == b.FullyLabeledReplicas && a.ReadyReplicas == b.ReadyReplicas &&
		a.AvailableReplicas == b.AvailableReplicas && ptr.Equal(a.TerminatingReplicas, b.TerminatingReplicas) &&
		a.ObservedGeneration == b.ObservedGeneration && len(a.Conditions) == len(b.Conditions)
}

func fmtRSStatus(s appsv1.ReplicaSetStatus) string {
	return fmt.Sprintf("{replicas %d, fullyLabeled %d, ready %d, available %d, terminating %v, observedGeneration %d, conditions %+v}",
		s.Replicas, s.FullyLabeledReplicas, s.ReadyReplicas, s.AvailableReplicas, ptr.Deref(s.TerminatingReplicas, -1), s.ObservedGeneration, s.Conditions)
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     set
		matches []map[string]string
		misses  []map[string]string
	}{
		{
			name:    "ReplicaSet: tier in (a, b), !legacy",
			set:     rsSet{newRS("web", 1, webSelector())},
			matches: []map[string]string{{"app": "web", "tier": "a"}, {"app": "web", "tier": "b", "extra": "x"}},
			misses:  []map[string]string{{"app": "web", "tier": "c"}, {"app": "web"}, {"app": "web", "tier": "a", "legacy": ""}, {"tier": "a"}},
		},
		{
			name: "ReplicaSet: notin and exists, no matchLabels",
			set: rsSet{newRS("web", 1, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}},
				{Key: "app", Operator: metav1.LabelSelectorOpExists},
			}})},
			matches: []map[string]string{{"app": "x"}, {"app": "y", "env": "dev"}},
			misses:  []map[string]string{{"app": "x", "env": "prod"}, {"env": "dev"}},
		},
		{name: "ReplicaSet: empty selects nothing", set: rsSet{newRS("web", 1, &metav1.LabelSelector{})}},
		{name: "ReplicaSet: none selects nothing", set: rsSet{newRS("web", 1, nil)}},
		{name: "ReplicaSet: invalid selects nothing", set: rsSet{newRS("web", 1, &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near", Values: []string{"a"}}}})}},
		{
			name:    "RC: spec.selector",
			set:     rcSet{&corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "kubia"}}}},
			matches: []map[string]string{{"app": "kubia"}, {"app": "kubia", "tier": "web"}},
			misses:  []map[string]string{{"app": "other"}, {}},
		},
		{
			name: "RC: no selector is the template's labels, as the API defaults it",
			set: rcSet{&corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{
				Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia", "tier": "web"}}}}}},
			matches: []map[string]string{{"app": "kubia", "tier": "web"}},
			misses:  []map[string]string{{"app": "kubia"}},
		},
		{name: "RC: nothing to default from selects nothing", set: rcSet{&corev1.ReplicationController{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel := tc.set.selector()
			if len(tc.matches)+len(tc.misses) == 0 {
				if sel != nil {
					t.Fatalf("selector %q, want none", sel)
				}
				return
			}
			if sel == nil {
				t.Fatal("no selector")
			}
			for _, l := range tc.matches {
				if !sel.Matches(labels.Set(l)) {
					t.Errorf("%q does not match %v", sel, l)
				}
			}
			for _, l := range tc.misses {
				if sel.Matches(labels.Set(l)) {
					t.Errorf("%q matches %v", sel, l)
				}
			}
		})
	}
}

// TestReplicaSetReplicaFailure: a create the API refuses shows as the
// ReplicaFailure condition (and a warning event), until a sync succeeds.
func TestReplicaSetReplicaFailure(t *testing.T) {
	rs := newRS("web", 2, webSelector())
	f := newRSFixture(t, rs)
	refuse := true
	f.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		if refuse {
			return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("exceeded quota: q"))
		}
		return false, nil, nil
	})
	if err := f.sync(t, rs); err == nil {
		t.Fatal("sync succeeded with every create refused")
	}
	w := f.writes(t)
	if len(w.created) != 1 || len(w.statuses) != 1 {
		t.Fatalf("%d creates tried, %d status writes; want 1 (the slow start stops at the first failure) and 1", len(w.created), len(w.statuses))
	}
	conds := w.statuses[0].Status.Conditions
	if len(conds) != 1 || conds[0].Type != appsv1.ReplicaSetReplicaFailure || conds[0].Status != corev1.ConditionTrue ||
		conds[0].Reason != "FailedCreate" || !strings.Contains(conds[0].Message, "exceeded quota: q") || !conds[0].LastTransitionTime.Time.Equal(t0) {
		t.Errorf("conditions %+v", conds)
	}
	if ev := <-f.events.Events; !strings.HasPrefix(ev, "Warning FailedCreate Error creating: ") {
		t.Errorf("event %q", ev)
	}
	if err := f.rss.Update(w.statuses[0]); err != nil {
		t.Fatal(err)
	}
	refuse = false
	if err := f.sync(t, rs); err != nil {
		t.Fatal(err)
	}
	if w := f.writes(t); len(w.created) != 2 || len(w.statuses) != 1 || w.statuses[0].Status.Conditions != nil {
		t.Errorf("%d created, statuses %+v; want 2 and the condition cleared", len(w.created), w.statuses)
	}
}

// TestReplicaSetLeavesDeploymentAnnotations: the annotations a Deployment keeps
// on its ReplicaSets are the deployment controller's: they stay on the set as
// they are and never reach its pods, which get the template's only.
func TestReplicaSetLeavesDeploymentAnnotations(t *testing.T) {
	rs := newRS("web-5d4f8", 1, webSelector())
	dep := map[string]string{
		"deployment.kubernetes.io/revision":         "3",
		"deployment.kubernetes.io/desired-replicas": "1",
		"deployment.kubernetes.io/max-replicas":     "2",
	}
	rs.Annotations = dep
	rs.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "now"}
	f := newRSFixture(t, rs)
	if err := f.sync(t, rs); err != nil {
		t.Fatal(err)
	}
	w := f.writes(t)
	if len(w.created) != 1 || len(w.statuses) != 1 {
		t.Fatalf("%d created, %d status writes", len(w.created), len(w.statuses))
	}
	if got := w.created[0].Annotations; len(got) != 1 || got["kubectl.kubernetes.io/restartedAt"] != "now" {
		t.Errorf("pod annotations %v, want the template's only", got)
	}
	stored, err := f.client.AppsV1().ReplicaSets("default").Get(context.Background(), rs.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []map[string]string{w.statuses[0].Annotations, stored.Annotations} {
		if fmt.Sprint(got) != fmt.Sprint(dep) {
			t.Errorf("annotations %v, want %v", got, dep)
		}
	}
	if stored.Status.Replicas != 0 || stored.Status.ObservedGeneration != 5 {
		t.Errorf("stored status %s", fmtRSStatus(stored.Status))
	}
}

// TestReplicaSetScaleDownCountsSiblings: an old ReplicaSet of a Deployment
// gives up first its pods on the nodes that the Deployment's pods crowd, its
// new ReplicaSet's included, as upstream ranks them.
func TestReplicaSetScaleDownCountsSiblings(t *testing.T) {
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "dep-uid", Controller: ptr.To(true)}
	old, cur := newRS("web-old", 1, webSelector()), newRS("web-new", 2, webSelector())
	old.OwnerReferences, cur.OwnerReferences = []metav1.OwnerReference{owner}, []metav1.OwnerReference{owner}
	running := func(node string, age time.Duration) podOpt {
		return func(p *corev1.Pod) {
			labelled("app", "web", "tier", "a")(p)
			on(node)(p)
			phase(corev1.PodRunning)(p)
			p.CreationTimestamp = metav1.NewTime(t0.Add(-age))
		}
	}
	// On their own, old-crowded (older) and old-alone (newer) are one pod per
	// node, and the newer would go; the new set's two pods on crowded tip it.
	f := newRSFixture(t, old, cur,
		mkPod("old-crowded", running("crowded", 4*time.Hour), ownedBy(old, rsKind)),
		mkPod("old-alone", running("alone", time.Minute), ownedBy(old, rsKind)),
		mkPod("new-1", running("crowded", time.Minute), ownedBy(cur, rsKind)),
		mkPod("new-2", running("crowded", time.Minute), ownedBy(cur, rsKind)),
	)
	if err := f.sync(t, old); err != nil {
		t.Fatal(err)
	}
	if w := f.writes(t); strings.Join(w.deleted, ",") != "old-crowded" {
		t.Errorf("deleted %v, want [old-crowded]", w.deleted)
	}
}

// TestReplicaSetControllerRuns: both kinds' controllers on one informer
// factory over a fake API; a ReplicaSet is run to its replicas, its status
// follows its pods, and a scale-down takes the pods not ready.
func TestReplicaSetControllerRuns(t *testing.T) {
	client := fake.NewClientset()
	nameGenerated(client)
	factory := informers.NewSharedInformerFactory(client, 0)
	rcs, rss := New(client, factory, Options{}), NewReplicaSets(client, factory, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 2)
	for _, c := range []*Controller{rcs, rss} {
		go func() { done <- c.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
		factory.Shutdown()
	})
	factory.WaitForCacheSync(ctx.Done())

	rs := newRS("web", 3, webSelector())
	rs.Spec.MinReadySeconds = 1
	rsAPI := client.AppsV1().ReplicaSets("default")
	if _, err := rsAPI.Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitFakePods(t, client, 3)
	for _, p := range pods {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.Kind != "ReplicaSet" || ref.UID != rs.UID {
			t.Errorf("pod %s ownerReferences %+v", p.Name, p.OwnerReferences)
		}
	}
	// Two pods go ready: one long ago, one now (available a second later).
	for i, since := range []time.Time{time.Now().Add(-time.Hour), time.Now()} {
		p := pods[i]
		p.ResourceVersion = fmt.Sprint("ready-", i) // the fake API keeps none of its own
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)}}
		if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitRSStatus(t, client, "ready 2 of 3, both available", func(st appsv1.ReplicaSetStatus) bool {
		return st.Replicas == 3 && st.ReadyReplicas == 2 && st.AvailableReplicas == 2 && ptr.Deref(st.TerminatingReplicas, -1) == 0
	})

	cur, err := rsAPI.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Replicas, cur.Generation = ptr.To(int32(2)), 6
	if _, err := rsAPI.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	left := waitFakePods(t, client, 2)
	if left[0].Name != pods[0].Name && left[1].Name != pods[0].Name || left[0].Name != pods[1].Name && left[1].Name != pods[1].Name {
		t.Errorf("kept %s and %s, want the ready %s and %s", left[0].Name, left[1].Name, pods[0].Name, pods[1].Name)
	}
	waitRSStatus(t, client, "scaled to 2", func(st appsv1.ReplicaSetStatus) bool {
		return st.Replicas == 2 && st.ObservedGeneration == 6
	})
	// The ReplicationManager, on the same pods, did nothing.
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "replicationcontrollers" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("the ReplicationManager called %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func waitFakePods(t *testing.T, client *fake.Clientset, n int) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == n {
			slices.SortFunc(list.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
			return list.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods, want %d", len(list.Items), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitRSStatus(t *testing.T, client *fake.Clientset, what string, ok func(appsv1.ReplicaSetStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, err := client.AppsV1().ReplicaSets("default").Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok(rs.Status) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %s: not %s", fmtRSStatus(rs.Status), what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
