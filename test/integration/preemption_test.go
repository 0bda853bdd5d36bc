package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/test/harness"
)

// TestPreemption follows upstream's conformance test "validates pod
// disruption condition is added to the preempted pod" on a hollow node: a
// pod of high priority that fits nowhere is nominated to the node of a pod
// of low priority, which gets the DisruptionTarget condition and is deleted
// gracefully; once it is gone the preemptor runs there.
func TestPreemption(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ctx := context.Background()
	for name, value := range map[string]int32{"low": 1, "high": 1000} {
		if _, err := c.Client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pods := c.Client.CoreV1().Pods("default")
	// A hollow node has 4 CPUs: either pod takes most of them.
	pod := func(name, class string) *corev1.Pod {
		cpu := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{PriorityClassName: class, Containers: []corev1.Container{{Name: "pause", Image: "pause",
				Resources: corev1.ResourceRequirements{Requests: cpu, Limits: cpu}}}},
		}
	}
	victim := pod("victim", "low")
	// As upstream's test, a finalizer keeps the victim to be looked at.
	victim.Finalizers = []string{"example.com/test-finalizer"}
	if _, err := pods.Create(ctx, victim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var node string
	eventually(t, "the victim runs", 30*time.Second, func() (bool, string) {
		p, err := pods.Get(ctx, "victim", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		node = p.Spec.NodeName
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase)
	})

	preemptor, err := pods.Create(ctx, pod("preemptor", "high"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	eventually(t, "the victim is marked and deleted", 30*time.Second, func() (bool, string) {
		p, err := pods.Get(ctx, "victim", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.DisruptionTarget {
				want := "default-scheduler: preempting to accommodate a higher priority pod"
				if cond.Status != corev1.ConditionTrue || cond.Reason != "PreemptionByScheduler" || cond.Message != want {
					t.Fatalf("DisruptionTarget condition %+v", cond)
				}
				return p.DeletionTimestamp != nil, "not being deleted"
			}
		}
		return false, fmt.Sprintf("conditions %v", p.Status.Conditions)
	})
	eventually(t, "the Preempted event", 30*time.Second, func() (bool, string) {
		events, err := c.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=victim,reason=Preempted"})
		if err != nil || len(events.Items) == 0 {
			return false, fmt.Sprint(err)
		}
		want := fmt.Sprintf("Preempted by pod %s on node %s", preemptor.UID, node)
		return events.Items[0].Message == want, events.Items[0].Message
	})

	if _, err := pods.Patch(ctx, "victim", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the preemptor runs on the victim's node", 30*time.Second, func() (bool, string) {
		p, err := pods.Get(ctx, "preemptor", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == node, p.Spec.NodeName + " " + string(p.Status.Phase)
	})
}
