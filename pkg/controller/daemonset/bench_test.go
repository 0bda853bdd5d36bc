package daemonset

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

// benchSettled is a DaemonSet with a ready pod on each of n nodes, its
// revision and a status that is already true, in the informers' stores of a
// controller that is not running: a sync finds nothing to do, which is what
// most of its syncs (one per batch of pod status changes) are.
func benchSettled(b *testing.B, n int) (*Controller, string) {
	b.Helper()
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "ds-uid", Generation: 1,
			Annotations: map[string]string{appsv1.DeprecatedTemplateGeneration: "1"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{
					Containers:   []corev1.Container{{Name: "c", Image: "agent"}},
					NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
				},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
		},
	}
	patch, err := templatePatch(ds)
	if err != nil {
		b.Fatal(err)
	}
	rev := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-abc", Namespace: "default", UID: "rev-uid",
			Labels:          map[string]string{"app": "agent", hashLabel: "abc"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, daemonSetKind)}},
		Data: runtime.RawExtension{Raw: patch}, Revision: 1,
	}
	ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: int32(n), CurrentNumberScheduled: int32(n),
		NumberReady: int32(n), UpdatedNumberScheduled: int32(n), NumberAvailable: int32(n)}
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Options{})
	c.recorder = &record.FakeRecorder{}
	b.Cleanup(c.queue.ShutDown)
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(factory.Apps().V1().DaemonSets().Informer().GetStore().Add(ds))
	must(factory.Apps().V1().ControllerRevisions().Informer().GetStore().Add(rev))
	nodes := factory.Core().V1().Nodes().Informer().GetStore()
	pods := factory.Core().V1().Pods().Informer().GetStore()
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	for i := range n {
		node := fmt.Sprintf("node-%d", i)
		must(nodes.Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{"kubernetes.io/os": "linux"}}}))
		pod := newPod(ds, podTemplate(ds, templateGeneration(ds), "abc"), node)
		pod.Name, pod.UID = fmt.Sprintf("agent-%d", i), types.UID(fmt.Sprint("pod-", i))
		pod.CreationTimestamp = metav1.NewTime(time.Now())
		pod.Spec.NodeName = node
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}
		must(pods.Add(pod))
	}
	return c, "default/agent"
}

// BenchmarkSyncSettled: the cost of a sync that finds a DaemonSet of 1,000
// nodes as it should be.
func BenchmarkSyncSettled(b *testing.B) {
	c, key := benchSettled(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.sync(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
	if acts := len(c.client.(*fake.Clientset).Actions()); acts != 0 {
		b.Fatalf("a settled sync wrote to the API: %v", c.client.(*fake.Clientset).Actions())
	}
}
