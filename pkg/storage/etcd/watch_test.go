package etcd_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// TestSlowWatcherDropped: a watcher that stops reading is dropped once its buffer is
// full, while a watcher on the same client (so on the same gRPC stream) goes on
// receiving every event, and writers are not held up.
func TestSlowWatcherDropped(t *testing.T) {
	const (
		buffer = 16
		writes = 500
	)
	ctx := t.Context()
	client := newClient(t, etcdtest.Start(t, t.TempDir(), false))
	b, err := etcd.New(client, "/skiff")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The same keys, through the same client, with a small buffer.
	small, err := etcd.New(client, "/skiff", etcd.WithWatchBuffer(buffer))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	start, err := b.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := small.Watch(ctx, "/", start)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := b.Watch(ctx, "/", start)
	if err != nil {
		t.Fatal(err)
	}
	fastDone := make(chan error, 1)
	go func() {
		last := start
		for last < start+writes {
			ev, ok := <-fast
			if !ok {
				fastDone <- fmt.Errorf("closed after revision %d", last)
				return
			}
			if ev.Revision() != last+1 {
				fastDone <- fmt.Errorf("revision %d after %d", ev.Revision(), last)
				return
			}
			last = ev.Revision()
		}
		fastDone <- nil
	}()

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := range writes {
		if _, err := b.Create(wctx, fmt.Sprintf("/k/%d", i), []byte("v")); err != nil {
			t.Fatalf("write %d behind a slow watcher: %v", i, err)
		}
	}
	select {
	case err := <-fastDone:
		if err != nil {
			t.Fatalf("the reading watcher: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reading watcher did not get every event: held up by the one that does not read")
	}

	// The slow one got a gapless start of at most its buffer, then its channel closed.
	n := 0
	for {
		ev, ok := recvEvent(t, slow)
		if !ok {
			break
		}
		if n++; ev.Revision() != start+int64(n) {
			t.Fatalf("slow watcher: event %d at revision %d, want %d", n, ev.Revision(), start+int64(n))
		}
	}
	if n > buffer || n == 0 {
		t.Errorf("slow watcher got %d events before its channel closed, want 1..%d", n, buffer)
	}
}

// TestWatchEndsWithContext: watches share one gRPC stream; ending some of them
// closes their channels and leaves the others working.
func TestWatchEndsWithContext(t *testing.T) {
	ctx := t.Context()
	b := newBackend(t, etcdtest.Start(t, t.TempDir(), false), "/skiff")
	keep, err := b.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		wctx, cancel := context.WithCancel(ctx)
		ch, err := b.Watch(wctx, "/", 0)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, ok := recvEvent(t, ch); ok {
			t.Fatalf("watch %d: an event after its context was canceled and nothing was written", i)
		}
	}
	rev, err := b.Create(ctx, "/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev, ok := recvEvent(t, keep); !ok || ev.Revision() != rev {
		t.Fatalf("the remaining watch: %v %q at %d (open %v), want the Create at %d", ev.Type, ev.KV.Key, ev.Revision(), ok, rev)
	}
}
