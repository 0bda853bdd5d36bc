package replication

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// benchRC is an RC of n replicas with its n pods (a third ready, a third
// running, a third pending, spread over 10 nodes) and 100 orphans of another
// app, in the informers' stores of a controller that is not running.
func benchRC(b *testing.B, n int) (*Controller, cache.Store, *corev1.ReplicationController, []*corev1.Pod) {
	b.Helper()
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia", Namespace: "default", UID: "rc-uid", Generation: 1},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To(int32(n)), Selector: map[string]string{"app": "kubia"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia"}}},
			},
		},
	}
	client := fake.NewSimpleClientset(rc)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Options{})
	rcs := factory.Core().V1().ReplicationControllers().Informer().GetStore()
	return c, rcs, rc, benchPods(b, c, factory, rc, rcKind, n)
}

// benchRS is benchRC's ReplicaSet, with a set-based selector.
func benchRS(b *testing.B, n int) (*Controller, cache.Store, *appsv1.ReplicaSet, []*corev1.Pod) {
	b.Helper()
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia", Namespace: "default", UID: "rs-uid", Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(int32(n)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}, MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "luksa/kubia"}}},
			},
		},
	}
	client := fake.NewSimpleClientset(rs)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := NewReplicaSets(client, factory, Options{})
	rss := factory.Apps().V1().ReplicaSets().Informer().GetStore()
	return c, rss, rs, benchPods(b, c, factory, rs, rsKind, n)
}

// benchPods fills the caches with owner and its pods, and the orphans.
func benchPods(b *testing.B, c *Controller, factory informers.SharedInformerFactory, owner metav1.Object, gvk schema.GroupVersionKind, n int) []*corev1.Pod {
	b.Helper()
	b.Cleanup(c.queue.ShutDown)
	c.recorder.EventRecorder = &record.FakeRecorder{}
	var pods []*corev1.Pod
	store := factory.Core().V1().Pods().Informer().GetStore()
	for i := range n + 100 {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("kubia-%05d", i), Namespace: "default", UID: types.UID(fmt.Sprint("pod-", i)), ResourceVersion: "1",
			Labels:            map[string]string{"app": "kubia"},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Duration(i) * time.Second)),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)},
		}}
		p.Spec.NodeName = fmt.Sprint("node-", i%10)
		switch i % 3 {
		case 0:
			p.Status.Phase = corev1.PodRunning
			readyFor(time.Duration(i) * time.Second)(p)
		case 1:
			p.Status.Phase = corev1.PodRunning
		default:
			p.Status.Phase = corev1.PodPending
		}
		if i >= n {
			p.Name, p.Labels, p.OwnerReferences = fmt.Sprint("other-", i), map[string]string{"app": "other"}, nil
		} else {
			pods = append(pods, p)
		}
		if err := store.Add(p); err != nil {
			b.Fatal(err)
		}
	}
	sets := factory.Core().V1().ReplicationControllers().Informer().GetStore()
	if gvk == rsKind {
		sets = factory.Apps().V1().ReplicaSets().Informer().GetStore()
	}
	if err := sets.Add(owner); err != nil {
		b.Fatal(err)
	}
	return pods
}

// BenchmarkSyncSteady: one sync of an RC of 1,000 pods whose status is already
// right: the cost every status-only pod event batch pays.
func BenchmarkSyncSteady(b *testing.B) {
	c, rcs, _, _ := benchRC(b, 1000)
	benchSyncSteady(b, c, rcs)
}

func BenchmarkReplicaSetSyncSteady(b *testing.B) {
	c, rss, _, _ := benchRS(b, 1000)
	benchSyncSteady(b, c, rss)
}

func benchSyncSteady(b *testing.B, c *Controller, sets cache.Store) {
	ctx := context.Background()
	// The first sync writes the status; the cache then holds it, as it would.
	if err := c.sync(ctx, "default/kubia"); err != nil {
		b.Fatal(err)
	}
	cur, err := c.kind.fetch(ctx, "default", "kubia")
	if err != nil {
		b.Fatal(err)
	}
	if err := sets.Update(cur.object()); err != nil {
		b.Fatal(err)
	}
	calls := len(c.client.(*fake.Clientset).Actions())
	b.ReportAllocs()
	for b.Loop() {
		if err := c.sync(ctx, "default/kubia"); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(c.client.(*fake.Clientset).Actions()); n != calls {
		b.Fatalf("%d API calls in steady state, want none", n-calls)
	}
}

// BenchmarkPodStatusEvent: the informer handler for a pod of an RC that went
// ready, the commonest event in a storm.
func BenchmarkPodStatusEvent(b *testing.B) {
	c, _, _, pods := benchRC(b, 1000)
	benchPodStatusEvent(b, c, pods[1])
}

func BenchmarkReplicaSetPodStatusEvent(b *testing.B) {
	c, _, _, pods := benchRS(b, 1000)
	benchPodStatusEvent(b, c, pods[1])
}

func benchPodStatusEvent(b *testing.B, c *Controller, old *corev1.Pod) {
	cur := old.DeepCopy()
	cur.ResourceVersion = "2"
	readyFor(0)(cur)
	b.ReportAllocs()
	for b.Loop() {
		c.updatePod(old, cur)
	}
}

// BenchmarkOrphanEvent: a new orphan pod in a namespace of 50 RCs, one of
// which selects it.
func BenchmarkOrphanEvent(b *testing.B) {
	c, rcs, _, _ := benchRC(b, 10)
	for i := range 49 {
		other := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("rc-", i), Namespace: "default", UID: types.UID(fmt.Sprint("rc-", i))},
			Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": fmt.Sprint("app-", i)}}}
		if err := rcs.Add(other); err != nil {
			b.Fatal(err)
		}
	}
	benchOrphanEvent(b, c)
}

func BenchmarkReplicaSetOrphanEvent(b *testing.B) {
	c, rss, _, _ := benchRS(b, 10)
	for i := range 49 {
		other := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("rs-", i), Namespace: "default", UID: types.UID(fmt.Sprint("rs-", i))},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprint("app-", i)},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist}}}}}
		if err := rss.Add(other); err != nil {
			b.Fatal(err)
		}
	}
	benchOrphanEvent(b, c)
}

func benchOrphanEvent(b *testing.B, c *Controller) {
	pod := orphan("stray", map[string]string{"app": "kubia", "tier": "web"})
	b.ReportAllocs()
	for b.Loop() {
		c.addPod(pod)
	}
}

func orphan(name string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: lbls}}
}

// BenchmarkScaleDown: one sync of an RC of 1,000 pods scaled to 500: ranking
// the pods, and 500 deletes through a fake API.
func BenchmarkScaleDown(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		c, rcs, rc, pods := benchRC(b, 1000)
		client := c.client.(*fake.Clientset)
		for _, p := range pods {
			if err := client.Tracker().Add(p); err != nil {
				b.Fatal(err)
			}
		}
		rc.Spec.Replicas = ptr.To(int32(500))
		if err := rcs.Update(rc); err != nil {
			b.Fatal(err)
		}
		client.ClearActions()
		b.StartTimer()
		if err := c.sync(ctx, "default/kubia"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScaleUp: one sync of an RC of 0 pods scaled to 500: the slow start
// of creates through a fake API.
func BenchmarkScaleUp(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		c, rcs, rc, _ := benchRC(b, 0)
		rc.Spec.Replicas = ptr.To(int32(500))
		if err := rcs.Update(rc); err != nil {
			b.Fatal(err)
		}
		nameGenerated(c.client.(*fake.Clientset))
		b.StartTimer()
		if err := c.sync(ctx, "default/kubia"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPodsToDelete(b *testing.B) {
	_, _, _, pods := benchRC(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		podsToDelete(pods, nil, 500, t0)
	}
}
