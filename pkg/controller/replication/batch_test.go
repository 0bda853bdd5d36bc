package replication

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// TestPodEventsBatched: a pod change that only moves an RC's status waits the
// batch period, so a storm of them costs one count of the RC's pods per
// period; a change that may need a pod created, deleted or released queues the
// RC at once.
func TestPodEventsBatched(t *testing.T) {
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Options{})
	defer c.queue.ShutDown()
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "kubia", Namespace: "default", UID: "rc-uid"}}
	if err := factory.Core().V1().ReplicationControllers().Informer().GetStore().Add(rc); err != nil {
		t.Fatal(err)
	}
	owned := func(rv string, opts ...podOpt) *corev1.Pod {
		p := mkPod("kubia-1", opts...)
		p.Namespace, p.ResourceVersion, p.Labels = "default", rv, map[string]string{"app": "kubia"}
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: "kubia", UID: "rc-uid", Controller: ptr.To(true)}}
		return p
	}
	// queued reports whether the RC is queued now, and whether it is once the
	// batch period has passed; it takes it off the queue.
	queued := func() (now, later bool) {
		now = c.queue.Len() > 0
		if !now {
			deadline := time.Now().Add(10 * statusBatch)
			for c.queue.Len() == 0 && time.Now().Before(deadline) {
				time.Sleep(statusBatch / 10)
			}
		}
		later = c.queue.Len() > 0
		if later {
			key, _ := c.queue.Get()
			c.queue.Done(key)
			if key != "default/kubia" {
				t.Fatalf("queued %q", key)
			}
		}
		return now, later
	}

	running, ready := owned("2", phase(corev1.PodRunning)), owned("3", phase(corev1.PodRunning), readyFor(time.Second))
	failed := owned("4", phase(corev1.PodFailed))
	relabelled := owned("5", phase(corev1.PodRunning))
	relabelled.Labels = map[string]string{"app": "other"}
	for _, tc := range []struct {
		name     string
		old, cur *corev1.Pod
		atOnce   bool
	}{
		{"Running", owned("1"), running, false},
		{"Ready", running, ready, false},
		{"Failed: to be replaced", ready, failed, true},
		{"relabelled: to be released", running, relabelled, true},
	} {
		c.updatePod(tc.old, tc.cur)
		if now, later := queued(); now != tc.atOnce || !later {
			t.Errorf("%s: queued at once %v, after the batch %v; want at once %v", tc.name, now, later, tc.atOnce)
		}
	}

	// Creations under way: each one seen waits for the batch, the last one
	// (which lets the RC create more) does not.
	c.expect.ExpectCreations("default/kubia", 2)
	c.addPod(owned("1"))
	if now, later := queued(); now || !later {
		t.Errorf("one of two creations seen: queued at once %v, after the batch %v; want the batch", now, later)
	}
	c.addPod(owned("1"))
	if now, _ := queued(); !now {
		t.Error("the last creation seen did not queue the RC at once")
	}
	// A pod deleted by someone else is replaced at once.
	c.deletePod(owned("6"))
	if now, _ := queued(); !now {
		t.Error("a deleted pod did not queue the RC at once")
	}
}
