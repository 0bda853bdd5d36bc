package storagetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

func testWatchReplayThenLive(t *testing.T, b storage.Backend) {
	r1 := mustCreate(t, b, "/a", "a1")
	r2 := mustCreate(t, b, "/b", "b1")
	r3 := mustUpdate(t, b, "/a", "a2", r1)
	r4 := mustDelete(t, b, "/b", r2)

	ch := mustWatch(t, t.Context(), b, "/", r1)
	checkEvent(t, recv(t, ch), storage.Event{Type: storage.Created, KV: storage.KeyValue{Key: "/b", Value: []byte("b1"), CreateRevision: r2, ModRevision: r2}})
	checkEvent(t, recv(t, ch), storage.Event{Type: storage.Updated,
		KV:     storage.KeyValue{Key: "/a", Value: []byte("a2"), CreateRevision: r1, ModRevision: r3},
		PrevKV: &storage.KeyValue{Key: "/a", Value: []byte("a1"), CreateRevision: r1, ModRevision: r1}})
	checkEvent(t, recv(t, ch), storage.Event{Type: storage.Deleted,
		KV:     storage.KeyValue{Key: "/b", Value: []byte("b1"), CreateRevision: r2, ModRevision: r4},
		PrevKV: &storage.KeyValue{Key: "/b", Value: []byte("b1"), CreateRevision: r2, ModRevision: r2}})

	// Then live, from the next revision on.
	r5 := mustCreate(t, b, "/c", "c1")
	r6 := mustUpdate(t, b, "/a", "a3", 0)
	for _, want := range []int64{r5, r6} {
		if ev := recv(t, ch); ev.Revision() != want {
			t.Fatalf("live event %s, want revision %d", eventString(ev), want)
		}
	}

	// A watch from 0 replays everything.
	all := mustWatch(t, t.Context(), b, "/", 0)
	for want := r1; want <= r6; want++ {
		if ev := recv(t, all); ev.Revision() != want {
			t.Fatalf("replay from 0: event %s, want revision %d", eventString(ev), want)
		}
	}
}

// testWatchEvents checks every field of each event type, live and replayed.
func testWatchEvents(t *testing.T, b storage.Backend) {
	live := mustWatch(t, t.Context(), b, "/", 0)
	c := mustCreate(t, b, "/k", "v1")
	u := mustUpdate(t, b, "/k", "v2", c)
	d := mustDelete(t, b, "/k", u)
	want := []storage.Event{
		{Type: storage.Created, KV: storage.KeyValue{Key: "/k", Value: []byte("v1"), CreateRevision: c, ModRevision: c}},
		{Type: storage.Updated,
			KV:     storage.KeyValue{Key: "/k", Value: []byte("v2"), CreateRevision: c, ModRevision: u},
			PrevKV: &storage.KeyValue{Key: "/k", Value: []byte("v1"), CreateRevision: c, ModRevision: c}},
		// A delete carries the last value, at the revision of the delete.
		{Type: storage.Deleted,
			KV:     storage.KeyValue{Key: "/k", Value: []byte("v2"), CreateRevision: c, ModRevision: d},
			PrevKV: &storage.KeyValue{Key: "/k", Value: []byte("v2"), CreateRevision: c, ModRevision: u}},
	}
	replay := mustWatch(t, t.Context(), b, "/", 0)
	for name, ch := range map[string]<-chan storage.Event{"live": live, "replay": replay} {
		t.Run(name, func(t *testing.T) {
			for _, w := range want {
				ev := recv(t, ch)
				checkEvent(t, ev, w)
				if ev.Revision() != w.KV.ModRevision {
					t.Errorf("Revision() = %d, want %d", ev.Revision(), w.KV.ModRevision)
				}
			}
		})
	}
}

func testWatchPrefix(t *testing.T, b storage.Backend) {
	live := mustWatch(t, t.Context(), b, "/a/b/", 0)
	for _, k := range []string{"/a/bc/x", "/a/b/1", "/z", "/a/b", "/a/b/2", "/a/bc", "/a/b/end"} {
		mustCreate(t, b, k, "v")
	}
	mustDelete(t, b, "/a/bc", 0)
	mustDelete(t, b, "/a/b/1", 0)
	mustCreate(t, b, "/a/b/last", "v")

	tests := []struct {
		name   string
		ch     <-chan storage.Event
		prefix string
		want   string
	}{
		{"live", live, "/a/b/", "CREATED /a/b/1, CREATED /a/b/2, CREATED /a/b/end, DELETED /a/b/1, CREATED /a/b/last"},
		{"replay", mustWatch(t, t.Context(), b, "/a/b/", 0), "/a/b/", "CREATED /a/b/1, CREATED /a/b/2, CREATED /a/b/end, DELETED /a/b/1, CREATED /a/b/last"},
		{"byte prefix", mustWatch(t, t.Context(), b, "/a/b", 0), "/a/b",
			"CREATED /a/bc/x, CREATED /a/b/1, CREATED /a/b, CREATED /a/b/2, CREATED /a/bc, CREATED /a/b/end, DELETED /a/bc, DELETED /a/b/1, CREATED /a/b/last"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := strings.Count(tc.want, ",") + 1
			var got []string
			for range n {
				ev := recv(t, tc.ch)
				got = append(got, fmt.Sprintf("%v %s", ev.Type, ev.KV.Key))
			}
			if g := strings.Join(got, ", "); g != tc.want {
				t.Errorf("Watch(%q) saw\n %s\nwant\n %s", tc.prefix, g, tc.want)
			}
		})
	}
}

func testWatchFutureRevision(t *testing.T, b storage.Backend) {
	r := mustCreate(t, b, "/a", "v")
	ch := mustWatch(t, t.Context(), b, "/", r+2)
	for _, k := range []string{"/b", "/c", "/d"} {
		mustCreate(t, b, k, "v")
	}
	if ev := recv(t, ch); ev.Revision() != r+3 || ev.KV.Key != "/d" {
		t.Fatalf("Watch after %d: first event %s, want /d at %d", r+2, eventString(ev), r+3)
	}
}

// testWatchNoGap starts watchers while many goroutines write, and checks that each
// sees exactly the acknowledged writes after its start revision, once, in order.
func testWatchNoGap(t *testing.T, b storage.Backend) {
	const (
		writers  = 8
		phase    = 150 // writes between one start of watchers and the next
		sentinel = "/nogap/3/~end"
	)
	ctx := t.Context()
	base := mustRevision(t, b) // every revision after it is a write of this test
	var (
		mu    sync.Mutex
		acked = map[int64]string{} // revision -> key
	)
	ack := func(key string, rev int64, err error) bool {
		if err != nil {
			t.Errorf("write %q: %v", key, err)
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if old, dup := acked[rev]; dup {
			t.Errorf("revision %d given to both %q and %q", rev, old, key)
		}
		acked[rev] = key
		return true
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}

	// Writers create, update and delete their own keys until told to stop.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := func(i int) string { return fmt.Sprintf("/nogap/%d/%06d", w, i) }
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rev, err := b.Create(ctx, key(i), []byte("v"))
				if !ack(key(i), rev, err) {
					return
				}
				if i%2 == 1 {
					rev, err = b.Update(ctx, key(i-1), []byte("w"), 0)
					if !ack(key(i-1), rev, err) {
						return
					}
				}
				if i%4 == 3 {
					rev, err = b.Delete(ctx, key(i-3), 0)
					if !ack(key(i-3), rev, err) {
						return
					}
				}
			}
		}()
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	waitWrites := func(n int) {
		deadline := time.Now().Add(timeout)
		for ackedCount() < n {
			if t.Failed() || time.Now().After(deadline) {
				t.Fatalf("writers stopped after %d writes, want %d", ackedCount(), n)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}

	type watch struct {
		prefix string
		after  int64
		events []storage.Event
		err    error
		done   chan struct{}
	}
	var watches []*watch
	start := func(prefix string, after int64) {
		w := &watch{prefix: prefix, after: after, done: make(chan struct{})}
		ch := mustWatch(t, ctx, b, prefix, after)
		go func() {
			defer close(w.done)
			for {
				for ev := range ch {
					w.events = append(w.events, ev)
					if ev.KV.Key == sentinel {
						return
					}
				}
				// A backend may drop a watcher that falls behind; it resumes from the
				// last revision it saw, and must still see no gap.
				from := w.after
				if len(w.events) > 0 {
					from = w.events[len(w.events)-1].Revision()
				}
				if ch, w.err = b.Watch(ctx, prefix, from); w.err != nil {
					return
				}
			}
		}()
		watches = append(watches, w)
	}
	for round := range 4 {
		waitWrites(round * phase)
		r := mustRevision(t, b)
		start("/nogap/", r)
		start("/nogap/3/", r)
		start("/nogap/", base+(r-base)/2) // replays while the writes go on
	}
	waitWrites(5 * phase)
	close(stop)
	wg.Wait()
	final, err := b.Create(ctx, sentinel, nil)
	ack(sentinel, final, err)
	if t.Failed() {
		return
	}

	for _, w := range watches {
		select {
		case <-w.done:
		case <-time.After(timeout):
			t.Fatalf("Watch(%q, %d) did not reach the last write", w.prefix, w.after)
		}
		if w.err != nil {
			t.Fatalf("Watch(%q, %d) again after its channel closed: %v", w.prefix, w.after, w.err)
		}
		var want []int64
		for rev, key := range acked {
			if rev > w.after && strings.HasPrefix(key, w.prefix) {
				want = append(want, rev)
			}
		}
		slices.Sort(want)
		got := make([]int64, len(w.events))
		for i, ev := range w.events {
			got[i] = ev.Revision()
			if ev.KV.Key != acked[got[i]] {
				t.Errorf("Watch(%q, %d): event %s, but revision %d was a write to %q", w.prefix, w.after, eventString(ev), got[i], acked[got[i]])
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Watch(%q, %d) saw revisions\n %v\nwant\n %v", w.prefix, w.after, got, want)
		}
		if w.prefix == "/nogap/" && len(got) > 0 && (got[0] != w.after+1 || got[len(got)-1] != final) {
			t.Errorf("Watch(%q, %d) saw revisions %d..%d, want every revision %d..%d", w.prefix, w.after, got[0], got[len(got)-1], w.after+1, final)
		}
	}
}

// testCompactDuringReplay compacts history that a watcher has not read yet. The
// watcher gets a gapless start, and if its channel closes early, watching again from
// where it stopped fails with ErrCompacted.
func testCompactDuringReplay(t *testing.T, b storage.Backend) {
	const writes = 3000
	start := mustRevision(t, b)
	if err := createMany(t.Context(), b, "/replay/", writes); err != nil {
		t.Fatal(err)
	}
	end := mustRevision(t, b)
	ch := mustWatch(t, t.Context(), b, "/", start)
	if err := b.Compact(t.Context(), end); err != nil {
		t.Fatal(err)
	}
	last := readContiguous(t, ch, start, end)
	if last == end {
		return // the backend read all the history before the compaction
	}
	_, err := b.Watch(t.Context(), "/", last)
	wantErr(t, fmt.Sprintf("Watch after %d, compacted at %d", last, end), err, storage.ErrCompacted)
}

// createMany creates n keys under prefix from concurrent callers.
func createMany(ctx context.Context, b storage.Backend, prefix string, n int) error {
	const callers = 16
	errs := make(chan error, callers)
	for c := range callers {
		go func() {
			for i := c; i < n; i += callers {
				if _, err := b.Create(ctx, fmt.Sprintf("%s%d", prefix, i), []byte("v")); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range callers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// readContiguous reads revisions after+1, after+2, ... from ch until it reaches upto
// or the channel closes, and returns the last revision read.
func readContiguous(t *testing.T, ch <-chan storage.Event, after, upto int64) int64 {
	t.Helper()
	last := after
	for last < upto {
		select {
		case ev, ok := <-ch:
			if !ok {
				return last
			}
			if ev.Revision() != last+1 {
				t.Fatalf("watch got revision %d after %d", ev.Revision(), last)
			}
			last = ev.Revision()
		case <-time.After(timeout):
			t.Fatalf("watch stuck after revision %d: neither an event nor a close", last)
		}
	}
	return last
}

// testWatchSlowConsumer checks that a watcher that does not read cannot hold up
// writers, and that what it does get is a gapless start it can resume from.
func testWatchSlowConsumer(t *testing.T, b storage.Backend) {
	const writes = 3000
	start := mustRevision(t, b)
	ch := mustWatch(t, t.Context(), b, "/", start)

	ctx, cancel := context.WithTimeout(t.Context(), 4*timeout)
	defer cancel()
	if err := createMany(ctx, b, "/slow/", writes); err != nil {
		t.Fatalf("writes blocked behind a slow watcher: %v", err)
	}
	end := mustRevision(t, b)
	last := readContiguous(t, ch, start, end)
	if last == end {
		return // the backend buffered everything
	}
	resumed := mustWatch(t, t.Context(), b, "/", last)
	if got := readContiguous(t, resumed, last, end); got != end {
		t.Fatalf("resumed watch closed after revision %d, want it to reach %d", got, end)
	}
}

func testWatchCancel(t *testing.T, b storage.Backend) {
	ctx, cancel := context.WithCancel(t.Context())
	ch := mustWatch(t, ctx, b, "/", 0)
	mustCreate(t, b, "/a", "v")
	recv(t, ch)
	cancel()
	waitClosed(t, ch)

	// Also while it still has history to replay that nobody reads.
	for i := range 50 {
		mustCreate(t, b, fmt.Sprintf("/b/%d", i), "v")
	}
	ctx, cancel = context.WithCancel(t.Context())
	ch = mustWatch(t, ctx, b, "/", 0)
	cancel()
	waitClosed(t, ch)

	// The backend goes on working.
	mustCreate(t, b, "/c", "v")
}

func testCompact(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	var revs []int64
	for i := range 5 {
		revs = append(revs, mustCreate(t, b, fmt.Sprintf("/k%d", i), "v"))
	}
	last := mustUpdate(t, b, "/k0", "w", 0)
	compacted := revs[2]
	if got, err := b.CompactedRevision(ctx); err != nil || got != 0 {
		t.Fatalf("CompactedRevision before compacting: %d, %v; want 0", got, err)
	}
	if err := b.Compact(ctx, compacted); err != nil {
		t.Fatalf("Compact(%d): %v", compacted, err)
	}
	if got, err := b.CompactedRevision(ctx); err != nil || got != compacted {
		t.Fatalf("CompactedRevision after Compact(%d): %d, %v", compacted, got, err)
	}

	t.Run("watch", func(t *testing.T) {
		tests := []struct {
			after int64
			want  []int64 // nil: ErrCompacted
		}{
			{0, nil},
			{compacted - 1, nil},
			{compacted, []int64{revs[3], revs[4], last}},
			{revs[4], []int64{last}},
		}
		for _, tc := range tests {
			ch, err := b.Watch(ctx, "/", tc.after)
			if tc.want == nil {
				wantErr(t, fmt.Sprintf("Watch after %d, compacted at %d", tc.after, compacted), err, storage.ErrCompacted)
				continue
			}
			if err != nil {
				t.Fatalf("Watch after %d, compacted at %d: %v", tc.after, compacted, err)
			}
			for _, want := range tc.want {
				if ev := recv(t, ch); ev.Revision() != want {
					t.Fatalf("Watch after %d: event at %d, want %d", tc.after, ev.Revision(), want)
				}
			}
		}
	})

	t.Run("compact again", func(t *testing.T) {
		for _, rev := range []int64{compacted, compacted - 1} {
			if err := b.Compact(ctx, rev); err != nil {
				t.Errorf("Compact(%d) after Compact(%d): %v, want nil", rev, compacted, err)
			}
		}
		if err := b.Compact(ctx, last+1); err == nil {
			t.Errorf("Compact(%d) beyond current revision %d succeeded", last+1, last)
		}
	})

	t.Run("data kept", func(t *testing.T) {
		kvs, rev, err := b.List(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		if got := keysOf(kvs); got != "/k0 /k1 /k2 /k3 /k4" || rev != last {
			t.Errorf("List after Compact = %q at %d, want all five keys at %d", got, rev, last)
		}
		checkKV(t, "Get /k0", mustGet(t, b, "/k0"), storage.KeyValue{Key: "/k0", Value: []byte("w"), CreateRevision: revs[0], ModRevision: last})
	})

	t.Run("compact everything", func(t *testing.T) {
		if err := b.Compact(ctx, last); err != nil {
			t.Fatal(err)
		}
		_, err := b.Watch(ctx, "/", last-1)
		wantErr(t, "Watch before the compacted revision", err, storage.ErrCompacted)
		ch := mustWatch(t, ctx, b, "/", last)
		rev := mustCreate(t, b, "/after", "v")
		if rev != last+1 {
			t.Errorf("Create after Compact got revision %d, want %d", rev, last+1)
		}
		if ev := recv(t, ch); ev.Revision() != rev {
			t.Errorf("Watch from the compacted revision got %s, want revision %d", eventString(ev), rev)
		}
	})
}
