package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/bolt"
	"github.com/skiffhq/skiff/pkg/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.RunContract(t, func(t *testing.T) storage.Backend {
		return open(t, filepath.Join(t.TempDir(), "skiff.db"))
	})
}

func open(t testing.TB, path string, opts ...bolt.Option) *bolt.Backend {
	t.Helper()
	b, err := bolt.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestReopen checks that data, revisions and uncompacted history outlive the process
// that wrote them.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "skiff.db")
	b := open(t, path)
	for i := range 10 {
		if _, err := b.Create(ctx, fmt.Sprintf("/k/%d", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Update(ctx, "/k/0", []byte("updated"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Delete(ctx, "/k/1", 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Compact(ctx, 4); err != nil {
		t.Fatal(err)
	}
	wantKVs, wantRev, err := b.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	wantHistory := drain(t, b, 4, wantRev)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open(t, path)
	rev, err := b.CurrentRevision(ctx)
	if err != nil || rev != wantRev || wantRev != 12 {
		t.Fatalf("reopened at revision %d (%v), want %d = 12", rev, err, wantRev)
	}
	kvs, rev, err := b.List(ctx, "/")
	if err != nil || rev != wantRev || fmt.Sprint(kvs) != fmt.Sprint(wantKVs) {
		t.Fatalf("List after reopen = %v at %d (%v)\nwant %v at %d", kvs, rev, err, wantKVs, wantRev)
	}
	if got := drain(t, b, 4, wantRev); fmt.Sprint(got) != fmt.Sprint(wantHistory) {
		t.Errorf("history after reopen:\n %v\nwant\n %v", got, wantHistory)
	}
	if _, err := b.Watch(ctx, "/", 3); !errors.Is(err, storage.ErrCompacted) {
		t.Errorf("Watch before the compacted revision after reopen: %v, want ErrCompacted", err)
	}
	if rev, err := b.Create(ctx, "/k/new", nil); err != nil || rev != wantRev+1 {
		t.Errorf("Create after reopen = %d, %v; want revision %d", rev, err, wantRev+1)
	}
}

// drain returns the events in (after, upto].
func drain(t *testing.T, b storage.Backend, after, upto int64) []storage.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Watch(ctx, "/", after)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.Event
	for rev := after + 1; rev <= upto; rev++ {
		select {
		case ev := <-ch:
			if ev.Revision() != rev {
				t.Fatalf("replay: revision %d, want %d", ev.Revision(), rev)
			}
			ev.PrevKV = nil // fmt would print the pointer
			out = append(out, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("replay stopped before revision %d", rev)
		}
	}
	return out
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skiff.db")
	open(t, path)
	if b, err := bolt.Open(path, bolt.WithLockTimeout(50*time.Millisecond)); err == nil {
		b.Close()
		t.Fatal("a second Open of the same file succeeded")
	}
}

func TestAutoCompact(t *testing.T) {
	ctx := context.Background()
	b := open(t, filepath.Join(t.TempDir(), "skiff.db"), bolt.WithAutoCompact(5*time.Millisecond, 5))
	var rev int64
	for i := range 20 {
		var err error
		if rev, err = b.Create(ctx, fmt.Sprintf("/k/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := b.Watch(ctx, "/", rev-6)
		if errors.Is(err, storage.ErrCompacted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("history before revision %d still there: not compacted", rev-5)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The last five revisions stay.
	if got := drain(t, b, rev-5, rev); len(got) != 5 {
		t.Errorf("replay of the kept revisions: %d events, want 5", len(got))
	}
}

// TestAutoCompactOnLongHistory: a burst of writes that leaves more than twice
// the kept revisions is compacted at once, not at the next tick.
func TestAutoCompactOnLongHistory(t *testing.T) {
	ctx := context.Background()
	b := open(t, filepath.Join(t.TempDir(), "skiff.db"), bolt.WithAutoCompact(time.Hour, 5))
	var rev int64
	for i := range 10 {
		var err error
		if rev, err = b.Create(ctx, fmt.Sprintf("/k/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Ten revisions are not more than twice five: nothing happens.
	time.Sleep(50 * time.Millisecond)
	if c, err := b.CompactedRevision(ctx); err != nil || c != 0 {
		t.Fatalf("compacted to %d (%v) with 10 revisions kept, want nothing compacted", c, err)
	}
	if rev, _ = b.Create(ctx, "/k/10", nil); rev != 11 {
		t.Fatalf("revision %d, want 11", rev)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := b.CompactedRevision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c == rev-5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("compacted to %d with 11 revisions and 5 to keep, want %d", c, rev-5)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := drain(t, b, rev-5, rev); len(got) != 5 {
		t.Errorf("replay of the kept revisions: %d events, want 5", len(got))
	}
}
