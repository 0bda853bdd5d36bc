package integration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// TestPodGeneration: a pod's metadata.generation is 1 at creation whatever
// the client sent, one more per change of its spec (not of its metadata, not
// for its binding), one more when a graceful delete marks it; its node
// reports the generation it acted on in status.observedGeneration and in its
// conditions. Upstream's conformance "Pod Generation" tests ask the same.
func TestPodGeneration(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gen", Generation: 100},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "luksa/kubia"}}},
	}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Generation != 1 {
		t.Fatalf("generation at creation (100 asked): %d, want 1", created.Generation)
	}
	observed := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			p, err := pods.Get(ctx, "gen", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ready := false
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady {
					ready = cond.ObservedGeneration == want
				}
			}
			if p.Generation == want && p.Status.ObservedGeneration == want && ready {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("generation %d, observed %d (Ready condition's: %v), want %d", p.Generation, p.Status.ObservedGeneration, p.Status.Conditions, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	observed(1) // scheduled (bound) and Running: still 1
	for _, step := range []struct {
		what string
		edit func(*corev1.Pod)
		want int64
	}{
		{"an empty update", func(*corev1.Pod) {}, 1},
		{"new tolerations", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpEqual, Value: "v", Effect: corev1.TaintEffectNoSchedule})
		}, 2},
		{"activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(5000)) }, 3},
		{"an annotation", func(p *corev1.Pod) { p.Annotations = map[string]string{"k": "v"} }, 3},
		{"a generation set by the client", func(p *corev1.Pod) { p.Generation = 1 }, 3},
	} {
		p, err := pods.Get(ctx, "gen", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		step.edit(p)
		if p, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if p.Generation != step.want {
			t.Errorf("after %s: generation %d, want %d", step.what, p.Generation, step.want)
		}
		observed(step.want)
	}
	// The object a graceful delete answers (the node may remove the pod a
	// moment later).
	var marked corev1.Pod
	err = c.Client.CoreV1().RESTClient().Delete().AbsPath("/api/v1/namespaces/default/pods/gen").
		Param("gracePeriodSeconds", "60").Do(ctx).Into(&marked)
	if err != nil || marked.DeletionTimestamp == nil || marked.Generation != 4 {
		t.Errorf("a graceful delete answered %v, deletionTimestamp %v, generation %d, want 4", err, marked.DeletionTimestamp, marked.Generation)
	}
}
