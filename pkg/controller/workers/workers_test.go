package workers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func newQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond))
}

// TestRunRetriesAndStops: a failing key is retried with back-off and reported,
// a key asking to be retried later comes back without being reported, every key
// is synced, and Run returns once ctx ends.
func TestRunRetriesAndStops(t *testing.T) {
	q := newQueue()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	calls := map[string]int{}
	var reported atomic.Int64
	done := make(chan struct{})
	sync := func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		switch {
		case key == "flaky" && calls[key] < 3:
			return errors.New("not yet")
		case key == "later" && calls[key] < 2:
			return After(5*time.Millisecond, errors.New("waiting for an event"))
		}
		if calls["ok"] >= 1 && calls["flaky"] >= 3 && calls["later"] >= 2 {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		return nil
	}
	stopped := make(chan struct{})
	go func() {
		Run(ctx, q, 3, sync, func(key string, err error) { reported.Add(1) })
		close(stopped)
	}()
	for _, k := range []string{"ok", "flaky", "later"} {
		q.Add(k)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("keys not all synced: %v", calls)
	}
	if got := reported.Load(); got != 2 {
		t.Fatalf("reported %d failures, want 2 (flaky twice, later never)", got)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	if !q.ShuttingDown() {
		t.Fatal("queue not shut down")
	}
}
