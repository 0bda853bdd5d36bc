package scheduler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestQueue() (*queue, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	q := newQueue(time.Second, 4*time.Second)
	q.now = clock.now
	return q, clock
}

func TestQueueOrder(t *testing.T) {
	q, clock := newTestQueue()
	q.add(testPod("first", container("", "")))
	clock.t = clock.t.Add(time.Millisecond)
	q.add(testPod("second", container("", "")))
	q.add(testPod("urgent", container("", ""), func(p *corev1.Pod) { p.Spec.Priority = ptr.To(int32(100)) }))
	for _, want := range []string{"urgent", "first", "second"} {
		qp, _ := q.pop()
		if qp.info.pod.Name != want {
			t.Fatalf("popped %s, want %s", qp.info.pod.Name, want)
		}
	}
}

func TestQueueUnschedulableWaitsForClusterChange(t *testing.T) {
	q, clock := newTestQueue()
	pi := testPod("p", container("", ""))
	pending := func() *podInfo { return pi }
	q.add(pi)
	qp, cycle := q.pop()
	q.failed(qp, cycle, true, pending)
	if a, b, u := q.lens(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("after failing: active=%d backoff=%d unschedulable=%d, want it unschedulable", a, b, u)
	}
	clock.t = clock.t.Add(time.Hour)
	q.flush() // the hour is past maxUnschedulable too: it comes back
	if a, _, _ := q.lens(); a != 1 {
		t.Fatalf("a pod unschedulable for an hour must be retried")
	}
	qp, cycle = q.pop()
	q.failed(qp, cycle, true, pending)

	// A cluster change while it is backing off sends it to back-off, then active.
	q.moveAll()
	if a, b, u := q.lens(); a != 0 || b != 1 || u != 0 {
		t.Fatalf("after a change during back-off: active=%d backoff=%d unschedulable=%d", a, b, u)
	}
	clock.t = clock.t.Add(2 * time.Second) // second attempt: 2s back-off
	q.flush()
	if a, b, _ := q.lens(); a != 1 || b != 0 {
		t.Fatalf("after the back-off: active=%d backoff=%d", a, b)
	}
}

// A change that happens while a pod is being scheduled must not be missed: the
// pod goes to back-off instead of waiting for another change.
func TestQueueChangeDuringAttempt(t *testing.T) {
	q, _ := newTestQueue()
	pi := testPod("p", container("", ""))
	q.add(pi)
	qp, cycle := q.pop()
	q.moveAll()
	q.failed(qp, cycle, true, func() *podInfo { return pi })
	if _, b, u := q.lens(); b != 1 || u != 0 {
		t.Fatalf("backoff=%d unschedulable=%d, want it in back-off", b, u)
	}
}

func TestQueueDropsGonePods(t *testing.T) {
	q, _ := newTestQueue()
	pi := testPod("p", container("", ""))
	q.add(pi)
	qp, cycle := q.pop()
	q.failed(qp, cycle, true, func() *podInfo { return nil })
	if a, b, u := q.lens(); a+b+u != 0 {
		t.Fatal("a pod deleted during its attempt must not come back")
	}
	q.add(pi)
	q.remove(pi.pod.UID)
	if q.has(pi.pod.UID) {
		t.Fatal("removed pod still queued")
	}
	q.close()
	if qp, _ := q.pop(); qp != nil {
		t.Fatal("pop on a closed queue must return nil")
	}
}

func TestQueueBackoffGrows(t *testing.T) {
	q, _ := newTestQueue()
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 4 * time.Second} {
		if got := q.backoffFor(attempts); got != want {
			t.Errorf("backoff after %d attempts = %v, want %v", attempts, got, want)
		}
	}
}

// A pod whose spec changes while it is being scheduled is retried after
// back-off if the attempt fails, not parked until the cluster changes.
func TestQueuePodChangedDuringAttempt(t *testing.T) {
	q, _ := newTestQueue()
	pi := testPod("p", container("", ""))
	q.add(pi)
	qp, cycle := q.pop()
	q.changedInFlight(pi.pod.UID)
	q.failed(qp, cycle, true, func() *podInfo { return pi })
	if _, b, u := q.lens(); b != 1 || u != 0 {
		t.Fatalf("backoff=%d unschedulable=%d, want it in back-off", b, u)
	}
	qp, cycle = q.popAfterBackoff(t)
	q.failed(qp, cycle, true, func() *podInfo { return pi })
	if _, b, u := q.lens(); b != 0 || u != 1 {
		t.Fatalf("the note must be used once: backoff=%d unschedulable=%d", b, u)
	}
}

func (q *queue) popAfterBackoff(t *testing.T) (*queuedPod, int64) {
	t.Helper()
	q.mu.Lock()
	for _, qp := range q.backoff.items {
		qp.backoffAt = time.Time{}
	}
	q.mu.Unlock()
	q.flush()
	return q.pop()
}
