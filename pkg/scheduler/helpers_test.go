package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/scheduler"
	"github.com/skiffhq/skiff/test/harness"
)

const ns = "default"

// env is a cluster with no control loops but the scheduler under test.
type env struct {
	t       *testing.T
	client  kubernetes.Interface
	ctx     context.Context
	factory informers.SharedInformerFactory // the scheduler's
}

func start(t *testing.T) *env {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	s, err := scheduler.New(c.Client, factory, scheduler.Options{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
		factory.Shutdown()
	})
	return &env{t: t, client: c.Client, ctx: ctx, factory: factory}
}

type nodeOpt func(*corev1.Node)

func withLabels(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaint(key, value string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func withReady(s corev1.ConditionStatus) nodeOpt {
	return func(n *corev1.Node) { n.Status.Conditions[0].Status = s }
}

func withCapacity(cpu, memory string, pods int) nodeOpt {
	return func(n *corev1.Node) {
		rl := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse(memory),
			corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
		}
		n.Status.Capacity, n.Status.Allocatable = rl, rl.DeepCopy()
	}
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

// newNode is a Ready node with 4 CPUs, 8Gi and room for 110 pods.
func newNode(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
		},
	}
	withCapacity("4", "8Gi", 110)(n)
	for _, o := range opts {
		o(n)
	}
	return n
}

// addNode creates a node and makes sure its status is what was asked for
// (whether or not create keeps status).
func (e *env) addNode(n *corev1.Node) *corev1.Node {
	e.t.Helper()
	created, err := e.client.CoreV1().Nodes().Create(e.ctx, n, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating node %s: %v", n.Name, err)
	}
	created.Status = n.Status
	updated, err := e.client.CoreV1().Nodes().UpdateStatus(e.ctx, created, metav1.UpdateOptions{})
	if err != nil {
		e.t.Fatalf("setting status of node %s: %v", n.Name, err)
	}
	e.waitNodeSeen(updated.Name, updated.ResourceVersion)
	return updated
}

func (e *env) updateNode(name string, change func(*corev1.Node), status bool) {
	e.t.Helper()
	n, err := e.client.CoreV1().Nodes().Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	change(n)
	var updated *corev1.Node
	if status {
		updated, err = e.client.CoreV1().Nodes().UpdateStatus(e.ctx, n, metav1.UpdateOptions{})
	} else {
		updated, err = e.client.CoreV1().Nodes().Update(e.ctx, n, metav1.UpdateOptions{})
	}
	if err != nil {
		e.t.Fatalf("updating node %s: %v", name, err)
	}
	e.waitNodeSeen(updated.Name, updated.ResourceVersion)
}

// waitNodeSeen waits until the scheduler's node informer holds the node at
// resourceVersion rv. The scheduler hears of it through the same informer, so a
// pod created afterwards is not scheduled against the node as it was before
// (pods and nodes come on different watches).
func (e *env) waitNodeSeen(name, rv string) {
	e.t.Helper()
	lister := e.factory.Core().V1().Nodes().Lister()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, err := lister.Get(name); err == nil && n.ResourceVersion == rv {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the scheduler's informer did not see node %s at resourceVersion %s", name, rv)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type podOpt func(*corev1.Pod)

func requests(cpu, memory string) podOpt {
	return func(p *corev1.Pod) {
		rl := corev1.ResourceList{}
		if cpu != "" {
			rl[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if memory != "" {
			rl[corev1.ResourceMemory] = resource.MustParse(memory)
		}
		p.Spec.Containers[0].Resources.Requests = rl
	}
}

func nodeSelector(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func toleration(t corev1.Toleration) podOpt {
	return func(p *corev1.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, t) }
}

func hostPort(port int32, protocol corev1.Protocol) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{ContainerPort: 80, HostPort: port, Protocol: protocol})
	}
}

func affinity(terms ...corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
}

func ownedBy(kind, name string, uid string) podOpt {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{
			APIVersion: "v1", Kind: kind, Name: name, UID: types.UID(uid), Controller: &yes, BlockOwnerDeletion: &yes,
		})
	}
}

func newPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "test"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "kubia"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func (e *env) addPod(p *corev1.Pod) *corev1.Pod {
	e.t.Helper()
	created, err := e.client.CoreV1().Pods(p.Namespace).Create(e.ctx, p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating pod %s: %v", p.Name, err)
	}
	return created
}

func (e *env) deletePod(name string) {
	e.t.Helper()
	zero := int64(0)
	if err := e.client.CoreV1().Pods(ns).Delete(e.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		e.t.Fatalf("deleting pod %s: %v", name, err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func (e *env) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBound waits for a pod to be bound and returns its node.
func (e *env) waitBound(name string) string {
	e.t.Helper()
	var node string
	e.eventually("pod "+name+" to be bound", 10*time.Second, func() (bool, string) {
		p, err := e.client.CoreV1().Pods(ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		node = p.Spec.NodeName
		return node != "", fmt.Sprintf("conditions %+v", p.Status.Conditions)
	})
	return node
}

func (e *env) nodeOf(name string) string {
	e.t.Helper()
	p, err := e.client.CoreV1().Pods(ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Spec.NodeName
}

// events lists the events about a pod.
func (e *env) events(pod string) []corev1.Event {
	e.t.Helper()
	list, err := e.client.CoreV1().Events(ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// waitEvent waits for an event about a pod with the reason and message.
func (e *env) waitEvent(pod, reason, message string) corev1.Event {
	e.t.Helper()
	var found corev1.Event
	e.eventually(fmt.Sprintf("event %s %q on %s", reason, message, pod), 10*time.Second, func() (bool, string) {
		var seen []string
		for _, ev := range e.events(pod) {
			if ev.Reason == reason && ev.Message == message {
				found = ev
				return true, ""
			}
			seen = append(seen, ev.Reason+": "+ev.Message)
		}
		return false, strings.Join(seen, " | ")
	})
	return found
}

// waitUnschedulable waits for a pending pod's FailedScheduling event and its
// PodScheduled=False condition, both with the message.
func (e *env) waitUnschedulable(pod, message string) {
	e.t.Helper()
	ev := e.waitEvent(pod, "FailedScheduling", message)
	if ev.Type != corev1.EventTypeWarning || ev.Source.Component != "default-scheduler" {
		e.t.Errorf("event type %q from %q, want Warning from default-scheduler", ev.Type, ev.Source.Component)
	}
	e.eventually("PodScheduled=False on "+pod, 10*time.Second, func() (bool, string) {
		p, err := e.client.CoreV1().Pods(ns).Get(e.ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled {
				return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == message,
					fmt.Sprintf("%+v", c)
			}
		}
		return false, "no PodScheduled condition"
	})
	if n := e.nodeOf(pod); n != "" {
		e.t.Fatalf("pod %s was bound to %s; want it pending", pod, n)
	}
}

// expectScheduledEvent checks the Scheduled event of a bound pod.
func (e *env) expectScheduledEvent(pod, node string) {
	e.t.Helper()
	ev := e.waitEvent(pod, "Scheduled", fmt.Sprintf("Successfully assigned %s/%s to %s", ns, pod, node))
	if ev.Type != corev1.EventTypeNormal || ev.Source.Component != "default-scheduler" {
		e.t.Errorf("Scheduled event type %q from %q, want Normal from default-scheduler", ev.Type, ev.Source.Component)
	}
}
