package etcd_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// TestSlowWatcherDropped: a watcher that stops reading is dropped once its buffer is
// full, while a watcher on the same client (so on the same connection) goes on
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

// TestWatchEndsWithContext: ending some watches of a backend closes their channels
// and leaves the others working.
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

// TestWatchStreams: each watch has a gRPC stream of its own, which ends with it,
// even when progress requests, which name a watch's stream, race its end.
func TestWatchStreams(t *testing.T) {
	const n = 10
	s := etcdtest.Start(t, t.TempDir(), false)
	b := newBackend(t, s, "/skiff")
	base := watchStreams(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var chans []<-chan storage.Event
	for range n {
		ch, err := b.Watch(ctx, "/", 0)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	waitWatchStreams(t, s, base+n)

	done := make(chan struct{})
	requests := make(chan int)
	started := make(chan struct{})
	go func() {
		i := 0
		for ; ; i++ {
			if i == 100 {
				close(started)
			}
			select {
			case <-done:
				requests <- i
				return
			default:
			}
			_ = b.RequestProgress(t.Context())
		}
	}()
	<-started
	cancel()
	for _, ch := range chans {
		for {
			if _, ok := recvEvent(t, ch); !ok {
				break
			}
		}
	}
	close(done)
	t.Logf("%d progress requests while the watches ended", <-requests)
	waitWatchStreams(t, s, base)
}

// waitWatchStreams waits until etcd serves want watch streams.
func waitWatchStreams(t *testing.T, s *etcdtest.Server, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := watchStreams(t, s)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd serves %d watch streams, want %d", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchStreams is how many gRPC watch streams etcd serves, from its metrics.
func watchStreams(t *testing.T, s *etcdtest.Server) int {
	t.Helper()
	resp, err := http.Get(s.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	const metric = "etcd_debugging_mvcc_watch_stream_total "
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), metric); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s%s: %v", metric, v, err)
			}
			return int(n)
		}
	}
	t.Fatalf("no %q in etcd's metrics (%v)", metric, sc.Err())
	return 0
}
