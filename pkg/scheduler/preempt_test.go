package scheduler

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listerspolicyv1 "k8s.io/client-go/listers/policy/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

const fakeCPU = corev1.ResourceName("example.com/fakecpu")

// preemptEnv is a scheduler's cache and listers, without an API server.
type preemptEnv struct {
	s    *Scheduler
	pods toolscache.Indexer
	pdbs toolscache.Indexer
}

func newPreemptEnv(t *testing.T, nodes map[string]string) *preemptEnv {
	t.Helper()
	pods := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{})
	pdbs := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{})
	s := &Scheduler{cache: newCache(), pods: listerscorev1.NewPodLister(pods), pdbs: listerspolicyv1.NewPodDisruptionBudgetLister(pdbs)}
	for name, amount := range nodes {
		s.cache.setNode(&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), fakeCPU: resource.MustParse(amount)},
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			},
		})
	}
	return &preemptEnv{s: s, pods: pods, pdbs: pdbs}
}

func priorityPod(name string, priority int32, amount string, opts ...func(*corev1.Pod)) *corev1.Pod {
	rl := corev1.ResourceList{fakeCPU: resource.MustParse(amount)}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), CreationTimestamp: metav1.Now()},
		Spec: corev1.PodSpec{Priority: ptr.To(priority), Containers: []corev1.Container{{Name: "c",
			Resources: corev1.ResourceRequirements{Requests: rl, Limits: rl}}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func labelled(k, v string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Labels = map[string]string{k: v} }
}

// run binds pod to node in the cache and the lister, as the informer would.
func (e *preemptEnv) run(t *testing.T, pod *corev1.Pod, node string) {
	t.Helper()
	pod.Spec.NodeName = node
	if err := e.pods.Add(pod); err != nil {
		t.Fatal(err)
	}
	e.s.cache.setPod(newPodInfo(pod))
}

// try runs one cycle's filtering and preemption for pod.
func (e *preemptEnv) try(pod *corev1.Pod) (string, *preemption, string) {
	pi := newPodInfo(pod)
	e.s.cache.mu.Lock()
	defer e.s.cache.mu.Unlock()
	node, verdicts := e.s.pickNodeLocked(pi)
	if node != "" {
		return node, nil, ""
	}
	p, msg := e.s.preemptLocked(pi, verdicts)
	if p != nil {
		e.s.nominateLocked(pi, p)
	}
	return "", p, fitErrorMessage(verdicts, msg)
}

func victimNames(p *preemption) []string {
	var names []string
	for _, v := range p.victims {
		names = append(names, v.Name)
	}
	slices.Sort(names)
	return names
}

// TestPreemptionExecutionPath is the conformance test's ReplicaSets: on a
// node of 1000, pods of priority 1, 2 and 3 take 200, 300 and 450; a pod of
// priority 4 asking 500 evicts the first two, and keeps the third.
func TestPreemptionExecutionPath(t *testing.T) {
	e := newPreemptEnv(t, map[string]string{"n1": "1000"})
	e.run(t, priorityPod("pod1", 1, "200"), "n1")
	e.run(t, priorityPod("pod2", 2, "300"), "n1")
	e.run(t, priorityPod("pod3", 3, "450"), "n1")

	node, p, msg := e.try(priorityPod("pod4", 4, "500"))
	if node != "" || p == nil {
		t.Fatalf("placed on %q, plan %v", node, p)
	}
	if p.node != "n1" || !slices.Equal(victimNames(p), []string{"pod1", "pod2"}) {
		t.Fatalf("plan: node %s victims %v, want n1 [pod1 pod2]", p.node, victimNames(p))
	}
	if want := "0/1 nodes are available: 1 Insufficient example.com/fakecpu."; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}

	// The room made stays the preemptor's: the victims' replacements, of
	// lower priority, do not fit where the victims were, even once they are gone.
	for _, name := range []string{"pod1", "pod2"} {
		e.s.cache.removePod(types.UID("uid-" + name))
	}
	if node, p, _ := e.try(priorityPod("pod2-again", 2, "300")); node != "" || p != nil {
		t.Fatalf("a lower-priority pod took the nominated room: node %q plan %v", node, p)
	}
	if node, _, _ := e.try(priorityPod("pod4", 4, "500")); node != "n1" {
		t.Fatalf("the preemptor did not fit its nominated node: %q", node)
	}
}

// TestPreemptionPicksNode is the conformance test "validates basic preemption
// works": two pods on each node of 5, the first of low priority; a pod of high
// priority asking 2 evicts the low one alone.
func TestPreemptionPicksNode(t *testing.T) {
	e := newPreemptEnv(t, map[string]string{"n0": "5", "n1": "5"})
	e.run(t, priorityPod("pod0-0-low", 1, "2"), "n0")
	e.run(t, priorityPod("pod0-1-medium", 100, "2"), "n0")
	e.run(t, priorityPod("pod1-0-medium", 100, "2"), "n1")
	e.run(t, priorityPod("pod1-1-medium", 100, "2"), "n1")

	_, p, _ := e.try(priorityPod("preemptor", 1000, "2"))
	if p == nil || p.node != "n0" || !slices.Equal(victimNames(p), []string{"pod0-0-low"}) {
		t.Fatalf("plan %+v, want n0 evicting pod0-0-low", p)
	}
}

// TestPreemptionSparesBudgets: a node whose victim a PodDisruptionBudget
// protects is passed over for one whose victim matters more but breaks
// no budget.
func TestPreemptionSparesBudgets(t *testing.T) {
	e := newPreemptEnv(t, map[string]string{"a": "2", "b": "2"})
	e.run(t, priorityPod("guarded", 1, "2", labelled("app", "db")), "a")
	e.run(t, priorityPod("free", 50, "2", labelled("app", "web")), "b")
	if err := e.pdbs.Add(&policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0},
	}); err != nil {
		t.Fatal(err)
	}
	_, p, _ := e.try(priorityPod("preemptor", 100, "2"))
	if p == nil || p.node != "b" || !slices.Equal(victimNames(p), []string{"free"}) || p.pdbViolations != 0 {
		t.Fatalf("plan %+v, want b evicting free", p)
	}
}

func TestPreemptionRefused(t *testing.T) {
	e := newPreemptEnv(t, map[string]string{"n1": "2"})
	e.run(t, priorityPod("important", 100, "2"), "n1")

	_, p, msg := e.try(priorityPod("equal", 100, "1"))
	if want := "0/1 nodes are available: 1 Insufficient example.com/fakecpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."; p != nil || msg != want {
		t.Errorf("no lower priority: plan %v, message %q, want %q", p, msg, want)
	}
	_, p, msg = e.try(priorityPod("polite", 1000, "1", func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever) }))
	if p != nil || !strings.HasSuffix(msg, msgPreemptNever) {
		t.Errorf("preemptionPolicy Never: plan %v, message %q", p, msg)
	}
	_, p, msg = e.try(priorityPod("huge", 1000, "3"))
	if want := "0/1 nodes are available: 1 Insufficient example.com/fakecpu. preemption: 0/1 nodes are available: 1 Insufficient example.com/fakecpu."; p != nil || msg != want {
		t.Errorf("too big even alone: plan %v, message %q, want %q", p, msg, want)
	}
}

// TestPreemptionWaitsForVictims: a pod nominated to a node where its victims
// are still terminating does not preempt again.
func TestPreemptionWaitsForVictims(t *testing.T) {
	e := newPreemptEnv(t, map[string]string{"n1": "2"})
	victim := priorityPod("victim", 1, "2")
	e.run(t, victim, "n1")
	_, p, _ := e.try(priorityPod("preemptor", 100, "2"))
	if p == nil {
		t.Fatal("no preemption")
	}
	victim = victim.DeepCopy()
	victim.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	victim.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reasonPreemptionByScheduler}}
	e.run(t, victim, "n1")

	preemptor := priorityPod("preemptor", 100, "2", func(p *corev1.Pod) { p.Status.NominatedNodeName = "n1" })
	if _, p, msg := e.try(preemptor); p != nil || !strings.HasSuffix(msg, msgTerminating) {
		t.Fatalf("while the victim terminates: plan %v, message %q", p, msg)
	}
}
