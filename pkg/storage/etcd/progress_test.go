package etcd_test

import (
	"testing"

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

func mustWatchFrom(t *testing.T, b *etcd.Backend, after int64) <-chan storage.Event {
	t.Helper()
	ch, err := b.Watch(t.Context(), "/", after)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
