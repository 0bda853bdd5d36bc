package etcd_test

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// TestRequestProgress: asked, a watch says how far it has got even when the
// last write was another prefix's, which it never sees.
func TestRequestProgress(t *testing.T) {
	s := etcdtest.Start(t, t.TempDir(), false)
	ctx := t.Context()
	b := newBackend(t, s, "/skiff")
	other := newBackend(t, s, "/other")
	if _, err := b.Create(ctx, "/registry/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	ch := mustWatchFrom(t, b, 0)
	if ev, ok := recvEvent(t, ch); !ok || ev.Type != storage.Created {
		t.Fatalf("first event %+v", ev)
	}
	rev, err := other.Create(ctx, "/b", []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	ev, ok := recvEvent(t, ch)
	if !ok || ev.Type != storage.Progress || ev.Revision() != rev {
		t.Fatalf("after the request: %v %s at %d, want progress at %d", ok, ev.Type, ev.Revision(), rev)
	}
}

// TestRequestProgressWhileAnotherWatchReplays: a watch that has caught up says
// how far it has got when asked, even while another watch of the same backend
// is still replaying old history, as the API server's replays do beside its
// cache's watch. etcd drops a progress request for a gRPC stream any of whose
// watches is behind, so the watches must not share one.
func TestRequestProgressWhileAnotherWatchReplays(t *testing.T) {
	// etcd replays 1000 revisions a watch every 100ms, so this much history
	// keeps a watch from before it behind for about half a second.
	const history = 5000
	s := etcdtest.Start(t, t.TempDir(), false)
	ctx := t.Context()
	b := newBackend(t, s, "/skiff", etcd.WithWatchBuffer(2*history))
	other := newBackend(t, s, "/other")
	start, err := b.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var g errgroup.Group
	g.SetLimit(16)
	for i := range history {
		g.Go(func() error {
			_, err := b.Create(ctx, fmt.Sprintf("/registry/k/%d", i), []byte("v"))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	head, err := b.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}

	live := mustWatchFrom(t, b, head)
	replay := mustWatchFrom(t, b, start)
	// etcd has made the replaying watch and sent it the first of its history.
	if ev, ok := recvEvent(t, replay); !ok || ev.Revision() != start+1 {
		t.Fatalf("replay's first event: %v %s at %d, want revision %d", ok, ev.Type, ev.Revision(), start+1)
	}
	rev, err := other.Create(ctx, "/b", []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-live:
		if !ok || ev.Type != storage.Progress || ev.Revision() != rev {
			t.Fatalf("after the request: %v %s at %d, want progress at %d", ok, ev.Type, ev.Revision(), rev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no progress in 5s from the watch that had caught up, while another watch of the backend replays history")
	}
	// The case this test is for: the replay had not caught up when the answer came.
	if got := len(replay); got >= history-1 {
		t.Fatalf("the replaying watch had all %d events of its history before the progress came: the test needs more history", got+1)
	}
}

func mustWatchFrom(t *testing.T, b *etcd.Backend, after int64) <-chan storage.Event {
	t.Helper()
	ch, err := b.Watch(t.Context(), "/", after)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
