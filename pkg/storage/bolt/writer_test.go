package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
)

// TestBatchIsolation commits one batch in which some ops fail validation, and checks
// that each op gets its own answer and the others commit, at consecutive revisions.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	b, err := Open(filepath.Join(t.TempDir(), "skiff.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Create(ctx, "/old", []byte("v")); err != nil {
		t.Fatal(err)
	}

	batch := []*request{
		{op: opCreate, key: "/a", value: []byte("1")},
		{op: opCreate, key: "/a", value: []byte("2")},              // created just before, in this batch
		{op: opUpdate, key: "/a", value: []byte("3"), revision: 2}, // sees the create above
		{op: opUpdate, key: "/old", value: []byte("x"), revision: 2},
		{op: opDelete, key: "/missing"},
		{op: opDelete, key: "/old", revision: 1},
		{op: opCompact, revision: 99},
		{op: opCompact, revision: 1},
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	batch = append(batch, &request{ctx: canceled, op: opCreate, key: "/canceled"})
	for _, r := range batch {
		if r.ctx == nil {
			r.ctx = ctx
		}
		r.result = make(chan result, 1)
	}
	// Run on this goroutine: the writer is idle, as nothing else submits.
	b.commit(batch)

	want := []struct {
		rev int64
		err error  // a sentinel, or
		msg string // what the error says
	}{
		{rev: 2},
		{err: storage.ErrKeyExists},
		{rev: 3},
		{err: storage.ErrConflict},
		{err: storage.ErrNotFound},
		{rev: 4},
		{msg: "compact to revision 99: beyond current revision 4"},
		{}, // compacting to 1 succeeds without a revision
		{err: context.Canceled},
	}
	for i, r := range batch {
		res := <-r.result
		w := want[i]
		var ok bool
		switch {
		case w.err != nil:
			ok = errors.Is(res.err, w.err)
		case w.msg != "":
			ok = res.err != nil && res.err.Error() == w.msg
		default:
			ok = res.err == nil && res.rev == w.rev
		}
		if !ok {
			t.Errorf("op %d (%d %q) = revision %d, error %v; want revision %d, error %v%s", i, r.op, r.key, res.rev, res.err, w.rev, w.err, w.msg)
		}
	}
	if kv, err := b.Get(ctx, "/a"); err != nil || string(kv.Value) != "3" || kv.CreateRevision != 2 || kv.ModRevision != 3 {
		t.Errorf("Get(/a) = %+v, %v; want value 3 created at 2, modified at 3", kv, err)
	}
	if _, err := b.Get(ctx, "/old"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get(/old) after its delete: %v", err)
	}
	if _, err := b.Get(ctx, "/canceled"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get(/canceled): %v; a canceled request must not be applied", err)
	}
	if rev, _ := b.CurrentRevision(ctx); rev != 4 {
		t.Errorf("CurrentRevision = %d, want 4", rev)
	}
	if got := b.compacted.Load(); got != 1 {
		t.Errorf("compacted revision = %d, want 1", got)
	}
}
