package etcd_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// TestCompactedRevision: the compacted revision is etcd's, whoever compacted, and a
// new backend on the same etcd knows it.
func TestCompactedRevision(t *testing.T) {
	ctx := t.Context()
	s := etcdtest.Start(t, t.TempDir(), false)
	raw := newClient(t, s)
	b := newBackend(t, s, "/skiff")
	var revs []int64
	for i := range 60 {
		rev, err := b.Create(ctx, fmt.Sprintf("/k/%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	last := revs[len(revs)-1]

	// check checks what b says of the history; sees says whether b's prefix is the
	// one written to.
	check := func(what string, b storage.Backend, want int64, sees bool) {
		t.Helper()
		if got, err := b.CompactedRevision(ctx); err != nil || got != want {
			t.Fatalf("%s: CompactedRevision = %d, %v; want %d", what, got, err, want)
		}
		if _, err := b.Watch(ctx, "/", want-1); want > 0 && !errors.Is(err, storage.ErrCompacted) {
			t.Fatalf("%s: Watch after %d, compacted at %d: %v, want ErrCompacted", what, want-1, want, err)
		}
		ch, err := b.Watch(ctx, "/", want)
		if err != nil {
			t.Fatalf("%s: Watch after the compacted revision %d: %v", what, want, err)
		}
		for _, next := range revs {
			if sees && next > want {
				if ev, _ := recvEvent(t, ch); ev.Revision() != next {
					t.Fatalf("%s: Watch after %d replayed revision %d first, want %d", what, want, ev.Revision(), next)
				}
				break
			}
		}
	}

	check("never compacted", b, 0, true)
	if err := b.Compact(ctx, revs[3]); err != nil {
		t.Fatal(err)
	}
	check("after Compact", b, revs[3], true)
	check("a new backend", newBackend(t, s, "/skiff"), revs[3], true)
	check("a backend of another prefix", newBackend(t, s, "/other"), revs[3], false)

	// Another client compacts: one step, the next revision, many, to the end.
	for _, rev := range []int64{revs[4], revs[5], revs[37], last} {
		if _, err := raw.Compact(ctx, rev); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("compacted to %d by another client", rev), b, rev, true)
		check(fmt.Sprintf("compacted to %d by another client, a new backend", rev), newBackend(t, s, "/skiff"), rev, true)
	}
	// Compacting behind it is no error and changes nothing.
	if err := b.Compact(ctx, revs[10]); err != nil {
		t.Errorf("Compact(%d) after compacting to %d: %v", revs[10], last, err)
	}
	check("after compacting behind", b, last, true)
}
