package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiffhq/skiff/pkg/hollow"
	"github.com/skiffhq/skiff/test/harness"
)

// podgcStartNode runs a hollow node from the test, so that the test can stop
// it; it waits for the node to be ready.
func podgcStartNode(t *testing.T, c *harness.Cluster, name string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := hollow.New(c.Client, hollow.Options{Name: name, HeartbeatInterval: time.Second, StatusInterval: time.Second})
	go func() { _ = n.Run(ctx) }()
	stop = func() {
		cancel()
		select {
		case <-n.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("hollow node %s did not stop", name)
		}
	}
	t.Cleanup(stop)
	select {
	case <-n.Ready():
	case <-n.Done():
		t.Fatalf("hollow node %s: %v", name, n.Err())
	case <-time.After(30 * time.Second):
		t.Fatalf("hollow node %s not ready after 30s", name)
	}
	return stop
}

// podgcRunPod creates a pod bound to node and waits for it to run.
func podgcRunPod(t *testing.T, c *harness.Cluster, name, node string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pods := c.Client.CoreV1().Pods("default")
	_, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "kubia", Image: "luksa/kubia:v1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	var pod *corev1.Pod
	eventually(t, fmt.Sprintf("pod %s Running on %s", name, node), 30*time.Second, func() (bool, string) {
		pod, err = pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return pod.Status.Phase == corev1.PodRunning, string(pod.Status.Phase)
	})
	return pod
}

// TestPodGCDeletesPodsOfDeletedNodes: a worker is removed (its hollow kubelet
// stops, its Node is deleted): once the node has been gone for podgc's
// quarantine (shortened to 4s here; upstream's 40s by default, looked at every
// half of it), its pod is marked Failed with
// DisruptionTarget DeletionByPodGC and deleted. A Node deleted while its
// kubelet still runs registers again, and its pod stays.
func TestPodGCDeletesPodsOfDeletedNodes(t *testing.T) {
	const quarantine = 4 * time.Second
	c := harness.StartCluster(t, harness.Options{PodGCQuarantine: quarantine})
	ctx := context.Background()
	stopGone := podgcStartNode(t, c, "podgc-removed")
	podgcStartNode(t, c, "podgc-restarted")
	orphan := podgcRunPod(t, c, "podgc-orphan", "podgc-removed")
	survivor := podgcRunPod(t, c, "podgc-survivor", "podgc-restarted")

	w, err := c.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", orphan.Name).String(),
		ResourceVersion: orphan.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	stopGone()
	start := time.Now()
	for _, name := range []string{"podgc-removed", "podgc-restarted"} {
		if err := c.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting node %s: %v", name, err)
		}
	}

	// What a watcher of the orphan sees: Failed with the condition, then gone.
	var failed *corev1.Pod
	timeout := time.After(30 * time.Second)
	for deleted := false; !deleted; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed before the orphan was deleted")
			}
			pod, _ := ev.Object.(*corev1.Pod)
			switch ev.Type {
			case watch.Modified:
				if pod.Status.Phase == corev1.PodFailed && failed == nil {
					failed = pod
				}
			case watch.Deleted:
				deleted = true
			case watch.Error:
				t.Fatalf("watch error: %v", apierrors.FromObject(ev.Object))
			}
		case <-timeout:
			t.Fatalf("orphan not deleted %v after its node was", time.Since(start))
		}
	}
	elapsed := time.Since(start)
	t.Logf("orphan deleted %v after its node", elapsed)
	if elapsed < quarantine {
		t.Errorf("orphan deleted %v after its node, before the %v quarantine", elapsed, quarantine)
	}
	if failed == nil {
		t.Fatal("the orphan was deleted without being marked Failed first")
	}
	var dt *corev1.PodCondition
	for i := range failed.Status.Conditions {
		if failed.Status.Conditions[i].Type == corev1.DisruptionTarget {
			dt = &failed.Status.Conditions[i]
		}
	}
	if dt == nil || dt.Status != corev1.ConditionTrue || dt.Reason != "DeletionByPodGC" || dt.Message != "PodGC: node no longer exists" {
		t.Errorf("Failed orphan's DisruptionTarget condition: %+v", dt)
	}
	if _, err := c.Client.CoreV1().Pods("default").Get(ctx, orphan.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("GET of the deleted orphan: %v, want NotFound", err)
	}

	// The other Node registered again at once; its pod outlived a quarantine.
	if _, err := c.Client.CoreV1().Nodes().Get(ctx, "podgc-restarted", metav1.GetOptions{}); err != nil {
		t.Fatalf("the restarted node did not register again: %v", err)
	}
	got, err := c.Client.CoreV1().Pods("default").Get(ctx, survivor.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the pod of the node that registered again: %v", err)
	}
	if got.UID != survivor.UID || got.DeletionTimestamp != nil || got.Status.Phase != corev1.PodRunning {
		t.Errorf("the pod of the node that registered again: uid %s deleting %v phase %s", got.UID, got.DeletionTimestamp, got.Status.Phase)
	}
}
