package daemonset_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
)

var (
	ssd       = map[string]string{"disk": "ssd"}
	dedicated = corev1.Taint{Key: "dedicated", Value: "infra", Effect: corev1.TaintEffectNoSchedule}
	evict     = corev1.Taint{Key: "evict", Effect: corev1.TaintEffectNoExecute}
)

func TestPlacementFollowsSelectorAndTaints(t *testing.T) {
	e := newEnv(t)
	e.addNode("plain", nil)
	e.addNode("ssd", ssd)
	e.addNode("ssd-dedicated", ssd, dedicated)
	e.addNode("ssd-prefer", ssd, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectPreferNoSchedule})
	// The taints of node problems are tolerated by every daemon pod.
	e.addNode("ssd-notready", ssd, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute},
		corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule},
		corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule})
	e.addNode("ssd-nonet", ssd, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule})

	ds := newDaemonSet("agent", "agent:v1")
	ds.Spec.Template.Spec.NodeSelector = ssd
	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "other", Operator: corev1.TolerationOpExists}}
	ds = e.createDaemonSet(ds)
	e.waitPlacement(map[string][]string{"ssd": {"agent:v1"}, "ssd-prefer": {"agent:v1"}, "ssd-notready": {"agent:v1"}})

	pod := e.pods()[0]
	if !strings.HasPrefix(pod.Name, "agent-") {
		t.Errorf("pod name %q, want agent-...", pod.Name)
	}
	wantRef := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: ds.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	if !reflect.DeepEqual(pod.OwnerReferences, []metav1.OwnerReference{wantRef}) {
		t.Errorf("ownerReferences = %+v", pod.OwnerReferences)
	}
	if pod.Spec.NodeName != "" {
		t.Errorf("pod bound to %q by the controller; the scheduler binds it", pod.Spec.NodeName)
	}
	want := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
		Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{nodeOf(&pod)}}}}}}
	if got := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; !reflect.DeepEqual(got, want) {
		t.Errorf("required node affinity = %+v, want %+v", got, want)
	}
	if pod.Labels["pod-template-generation"] != "1" || len(pod.Labels["controller-revision-hash"]) == 0 || pod.Labels["app"] != "agent" {
		t.Errorf("pod labels = %v", pod.Labels)
	}
	var tol []string
	for _, tl := range pod.Spec.Tolerations {
		tol = append(tol, fmt.Sprintf("%s:%s:%s:%v", tl.Key, tl.Operator, tl.Effect, tl.TolerationSeconds))
	}
	wantTol := []string{
		"other:Exists::<nil>",
		"node.kubernetes.io/not-ready:Exists:NoExecute:<nil>",
		"node.kubernetes.io/unreachable:Exists:NoExecute:<nil>",
		"node.kubernetes.io/disk-pressure:Exists:NoSchedule:<nil>",
		"node.kubernetes.io/memory-pressure:Exists:NoSchedule:<nil>",
		"node.kubernetes.io/pid-pressure:Exists:NoSchedule:<nil>",
		"node.kubernetes.io/unschedulable:Exists:NoSchedule:<nil>",
	}
	if !slices.Equal(tol, wantTol) {
		t.Errorf("tolerations = %q, want %q", tol, wantTol)
	}

	// Host-network pods also tolerate an unavailable pod network.
	e.updateDaemonSet("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true })
	e.waitPlacement(map[string][]string{"ssd": {"agent:v1"}, "ssd-prefer": {"agent:v1"}, "ssd-notready": {"agent:v1"}, "ssd-nonet": {"agent:v1"}})

	e.runAll(true)
	controllertest.Eventually(t, "the status", func() (bool, string) {
		st := e.daemonSet("agent").Status
		return st.DesiredNumberScheduled == 4 && st.CurrentNumberScheduled == 4 && st.NumberReady == 4 &&
			st.ObservedGeneration == 2, fmt.Sprintf("%+v", st)
	})
}

func TestNodeAffinityAndTolerations(t *testing.T) {
	e := newEnv(t)
	e.addNode("a", map[string]string{"zone": "a"})
	e.addNode("b", map[string]string{"zone": "b"}, dedicated)
	e.addNode("c", map[string]string{"zone": "c"})
	ds := newDaemonSet("agent", "agent:v1")
	ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}},
		}}},
	}}
	ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "infra", Effect: corev1.TaintEffectNoSchedule}}
	e.createDaemonSet(ds)
	e.waitPlacement(map[string][]string{"a": {"agent:v1"}, "b": {"agent:v1"}})
	for _, p := range e.pods() {
		// The template's own affinity gives way to the node pin.
		terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 {
			t.Errorf("pod %s affinity terms %+v", p.Name, terms)
		}
	}
}

func TestNodesJoiningAndLeaving(t *testing.T) {
	e := newEnv(t)
	e.addNode("n1", ssd)
	ds := newDaemonSet("agent", "agent:v1")
	ds.Spec.Template.Spec.NodeSelector = ssd
	e.createDaemonSet(ds)
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}})

	e.addNode("n2", ssd)
	e.addNode("n3", nil)
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}, "n2": {"agent:v1"}})
	e.runAll(true)

	// Labelled into the selector: gains a pod; out of it: loses it.
	e.updateNode("n3", func(n *corev1.Node) { n.Labels = ssd })
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}, "n2": {"agent:v1"}, "n3": {"agent:v1"}})
	e.updateNode("n1", func(n *corev1.Node) { n.Labels = nil })
	e.waitPlacement(map[string][]string{"n2": {"agent:v1"}, "n3": {"agent:v1"}})

	// A NoSchedule taint keeps the pod there (misscheduled); NoExecute evicts it.
	e.updateNode("n2", func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{dedicated} })
	controllertest.Eventually(t, "a misscheduled pod", func() (bool, string) {
		st := e.daemonSet("agent").Status
		return st.NumberMisscheduled == 1 && st.DesiredNumberScheduled == 1, fmt.Sprintf("%+v", st)
	})
	e.waitPlacement(map[string][]string{"n2": {"agent:v1"}, "n3": {"agent:v1"}})
	e.updateNode("n2", func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{evict} })
	e.waitPlacement(map[string][]string{"n3": {"agent:v1"}})

	// A node that is deleted loses its pod at once: no kubelet is left to
	// confirm a graceful deletion.
	e.runAll(true)
	if err := e.client.CoreV1().Nodes().Delete(context.Background(), "n3", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPlacement(map[string][]string{})
	controllertest.Eventually(t, "status with no nodes", func() (bool, string) {
		st := e.daemonSet("agent").Status
		return st.DesiredNumberScheduled == 0 && st.CurrentNumberScheduled == 0 && st.NumberMisscheduled == 0, fmt.Sprintf("%+v", st)
	})
}

func TestFailedPodsAreReplaced(t *testing.T) {
	e := newEnv(t)
	e.addNode("n1", nil)
	e.createDaemonSet(newDaemonSet("agent", "agent:v1"))
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}})
	first := e.pods()[0].Name
	e.run(first, true)
	e.setPhase(first, corev1.PodFailed)
	controllertest.Eventually(t, "the failed pod replaced", func() (bool, string) {
		pods := e.pods()
		return len(pods) == 1 && pods[0].Name != first, fmt.Sprint(e.writes())
	})
	// A second failure right away waits out the back-off (a second).
	second := e.pods()[0].Name
	e.run(second, true)
	e.setPhase(second, corev1.PodFailed)
	controllertest.Eventually(t, "the second failed pod replaced after its back-off", func() (bool, string) {
		pods := e.pods()
		return len(pods) == 1 && pods[0].Name != second, fmt.Sprint(e.writes())
	})
}

func TestStatusCounts(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		e.addNode(n, nil)
	}
	e.createDaemonSet(newDaemonSet("agent", "agent:v1"))
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}, "n2": {"agent:v1"}, "n3": {"agent:v1"}, "n4": {"agent:v1"}})
	pods := e.pods()
	e.run(pods[0].Name, true)
	e.run(pods[1].Name, true)
	e.run(pods[2].Name, false)
	want := appsv1.DaemonSetStatus{
		ObservedGeneration: 1, DesiredNumberScheduled: 4, CurrentNumberScheduled: 4, NumberReady: 2,
		UpdatedNumberScheduled: 4, NumberAvailable: 2, NumberUnavailable: 2,
	}
	controllertest.Eventually(t, "the status", func() (bool, string) {
		st := e.daemonSet("agent").Status
		return reflect.DeepEqual(st, want), fmt.Sprintf("%+v", st)
	})
}

func TestRollingUpdateMaxUnavailable(t *testing.T) {
	e := newEnv(t)
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	for _, n := range nodes {
		e.addNode(n, nil)
	}
	ds := newDaemonSet("agent", "agent:v1")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(2))}}
	e.createDaemonSet(ds)
	all := func(image string) map[string][]string {
		m := map[string][]string{}
		for _, n := range nodes {
			m[n] = []string{image}
		}
		return m
	}
	e.waitPlacement(all("agent:v1"))
	e.runAll(true)
	e.settle()

	e.updateDaemonSet("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:v2" })
	for round := 0; ; round++ {
		if round > 5 {
			t.Fatalf("rollout did not finish: %v", e.placement())
		}
		e.settle()
		// At most two nodes without a ready pod at any resting point.
		notReady := 0
		byNode := map[string]bool{}
		for _, p := range e.pods() {
			if p.Status.Phase == corev1.PodRunning && p.Status.Conditions[0].Status == corev1.ConditionTrue {
				byNode[nodeOf(&p)] = true
			}
		}
		for _, n := range nodes {
			if !byNode[n] {
				notReady++
			}
		}
		if notReady > 2 {
			t.Fatalf("round %d: %d nodes without a ready pod (maxUnavailable 2): %v", round, notReady, e.placement())
		}
		if fmt.Sprint(e.placement()) == fmt.Sprint(all("agent:v2")) && notReady == 0 {
			break
		}
		e.runAll(true)
	}
	controllertest.Eventually(t, "the rolled-out status", func() (bool, string) {
		st := e.daemonSet("agent").Status
		return st.UpdatedNumberScheduled == 5 && st.NumberAvailable == 5 && st.ObservedGeneration == 2, fmt.Sprintf("%+v", st)
	})
	// Two revisions, the second the newest.
	revs, err := e.client.AppsV1().ControllerRevisions(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(revs.Items) != 2 {
		t.Fatalf("revisions: %v %v", revs, err)
	}
	hash := e.pods()[0].Labels["controller-revision-hash"]
	for _, r := range revs.Items {
		if (r.Labels["controller-revision-hash"] == hash) != (r.Revision == 2) {
			t.Errorf("revision %s (%d) labelled %q; pods have %q", r.Name, r.Revision, r.Labels["controller-revision-hash"], hash)
		}
		if r.Name != "agent-"+r.Labels["controller-revision-hash"] {
			t.Errorf("revision name %s, hash label %s", r.Name, r.Labels["controller-revision-hash"])
		}
	}
}

func TestRollingUpdateMaxSurge(t *testing.T) {
	e := newEnv(t)
	nodes := []string{"n1", "n2", "n3"}
	for _, n := range nodes {
		e.addNode(n, nil)
	}
	ds := newDaemonSet("agent", "agent:v1")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}}
	e.createDaemonSet(ds)
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}, "n2": {"agent:v1"}, "n3": {"agent:v1"}})
	e.runAll(true)
	e.settle()
	e.updateDaemonSet("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:v2" })
	for round := 0; ; round++ {
		if round > 6 {
			t.Fatalf("rollout did not finish: %v", e.placement())
		}
		e.settle()
		p := e.placement()
		doubled := 0
		for _, n := range nodes {
			if len(p[n]) == 0 {
				t.Fatalf("round %d: node %s has no pod while surging: %v", round, n, p)
			}
			if len(p[n]) > 1 {
				doubled++
			}
		}
		if doubled > 1 {
			t.Fatalf("round %d: %d nodes with two pods (maxSurge 1): %v", round, doubled, p)
		}
		if fmt.Sprint(p) == fmt.Sprint(map[string][]string{"n1": {"agent:v2"}, "n2": {"agent:v2"}, "n3": {"agent:v2"}}) {
			break
		}
		e.runAll(true)
	}
}

func TestOnDelete(t *testing.T) {
	e := newEnv(t)
	e.addNode("n1", nil)
	e.addNode("n2", nil)
	e.createDaemonSet(newDaemonSet("agent", "agent:v1"))
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}, "n2": {"agent:v1"}})
	e.runAll(true)
	e.updateDaemonSet("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:v2" })
	controllertest.Eventually(t, "the new generation observed", func() (bool, string) {
		st := e.daemonSet("agent").Status
		return st.ObservedGeneration == 2 && st.UpdatedNumberScheduled == 0, fmt.Sprintf("%+v", st)
	})
	e.settle()
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}, "n2": {"agent:v1"}})

	var victim corev1.Pod
	for _, p := range e.pods() {
		if nodeOf(&p) == "n1" {
			victim = p
		}
	}
	if err := e.client.CoreV1().Pods(ns).Delete(context.Background(), victim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPlacement(map[string][]string{"n1": {"agent:v2"}, "n2": {"agent:v1"}})
	for _, p := range e.pods() {
		if nodeOf(&p) == "n1" && (p.Labels["pod-template-generation"] != "2" || p.Labels["controller-revision-hash"] == victim.Labels["controller-revision-hash"]) {
			t.Errorf("replacement labels %v, old pod's %v", p.Labels, victim.Labels)
		}
	}
	e.runAll(true)
	controllertest.Eventually(t, "one updated", func() (bool, string) {
		st := e.daemonSet("agent").Status
		return st.UpdatedNumberScheduled == 1 && st.NumberAvailable == 2, fmt.Sprintf("%+v", st)
	})
}

func TestRevisionHistoryLimit(t *testing.T) {
	e := newEnv(t)
	e.addNode("n1", nil)
	ds := newDaemonSet("agent", "agent:v1")
	ds.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))}}
	e.createDaemonSet(ds)
	for i := 2; i <= 4; i++ {
		e.waitPlacement(map[string][]string{"n1": {fmt.Sprintf("agent:v%d", i-1)}})
		e.runAll(true)
		e.updateDaemonSet("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("agent:v%d", i) })
	}
	e.waitPlacement(map[string][]string{"n1": {"agent:v4"}})
	e.runAll(true)
	controllertest.Eventually(t, "two revisions left (current and one old)", func() (bool, string) {
		revs, _ := e.client.AppsV1().ControllerRevisions(ns).List(context.Background(), metav1.ListOptions{})
		var got []int64
		for _, r := range revs.Items {
			got = append(got, r.Revision)
		}
		slices.Sort(got)
		return slices.Equal(got, []int64{3, 4}), fmt.Sprint(got)
	})
}

func TestAdoptsOrphansAndReleasesStrays(t *testing.T) {
	e := newEnv(t)
	e.addNode("n1", nil)
	e.addNode("n2", nil)
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, Labels: map[string]string{"app": "agent"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "agent:v0"}}},
	}
	if _, err := e.client.CoreV1().Pods(ns).Create(context.Background(), orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ds := e.createDaemonSet(newDaemonSet("agent", "agent:v1"))
	// The orphan on n1 is adopted and kept (OnDelete): only n2 gets a new pod.
	e.waitPlacement(map[string][]string{"n1": {"agent:v0"}, "n2": {"agent:v1"}})
	controllertest.Eventually(t, "the orphan adopted", func() (bool, string) {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), "orphan", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return metav1.IsControlledBy(p, ds), fmt.Sprint(p.OwnerReferences)
	})

	// Relabelled out of the selector: released, and replaced on its node.
	p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels = map[string]string{"app": "debug"}
	if _, err := e.client.CoreV1().Pods(ns).Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPlacement(map[string][]string{"n1": {"agent:v0", "agent:v1"}, "n2": {"agent:v1"}})
	controllertest.Eventually(t, "the stray released", func() (bool, string) {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), "orphan", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return metav1.GetControllerOf(p) == nil, fmt.Sprint(p.OwnerReferences)
	})
}

// TestHandMadeRevisionIsNotDedupedAtOnce: a revision that names the DaemonSet
// as its controller, created by hand with the same data as the current one,
// does not make the controller sync (upstream's addHistory): both stay until
// the DaemonSet syncs for a reason of its own, as the ControllerRevision
// conformance test expects when it deletes the first one itself.
func TestHandMadeRevisionIsNotDedupedAtOnce(t *testing.T) {
	e := newEnv(t)
	e.addNode("n1", nil)
	e.createDaemonSet(newDaemonSet("agent", "agent:v1"))
	e.waitPlacement(map[string][]string{"n1": {"agent:v1"}})
	e.runAll(true)
	time.Sleep(300 * time.Millisecond) // the syncs the pods' start caused are done
	revs := e.revisionsOf(t)
	if len(revs) != 1 {
		t.Fatalf("%d revisions, want 1", len(revs))
	}
	copyRev := revs[0].DeepCopy()
	copyRev.ObjectMeta = metav1.ObjectMeta{Name: "agent-handmade", Namespace: ns, Labels: copyRev.Labels,
		OwnerReferences: copyRev.OwnerReferences}
	copyRev.Revision++
	if _, err := e.client.AppsV1().ControllerRevisions(ns).Create(context.Background(), copyRev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := e.revisionsOf(t); len(got) != 2 {
		t.Fatalf("%d revisions 300ms after one was made by hand, want both kept", len(got))
	}
}

func (e *env) revisionsOf(t *testing.T) []appsv1.ControllerRevision {
	t.Helper()
	list, err := e.client.AppsV1().ControllerRevisions(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}
