// Package storagetest is the contract every storage.Backend must pass, in the spirit
// of kine running one upstream suite against each database. A backend's tests call
// RunContract with a constructor for an empty backend, RunCrash and CrashChild to
// check that acknowledged writes survive a SIGKILL, and the Bench functions from
// benchmarks of the same names, so that the backends compare.
//
// It must test only what a caller of storage.Backend can see, and must not depend on
// any one backend or import one.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/storage"
)

// timeout bounds every wait for an event, generously: it only fires when a backend
// is broken.
const timeout = 10 * time.Second

// RunContract runs the contract suite. newBackend returns a new, empty backend that
// nothing else writes to while the subtest runs; the suite closes it when the subtest
// ends. Subtests run in parallel.
//
// An empty backend may start at any revision, not only 0: etcd's first write is its
// revision 2. The suite counts revisions from where the backend starts, and expects
// the backend's own writes to take consecutive revisions from there.
func RunContract(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		run  func(t *testing.T, b storage.Backend)
	}{
		{"CreateGet", testCreateGet},
		{"ValuesAreCopied", testValuesAreCopied},
		{"Errors", testErrors},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"CreateRevisionPreserved", testCreateRevisionPreserved},
		{"RevisionsIncrease", testRevisionsIncrease},
		{"ConcurrentCompareAndSwap", testConcurrentCAS},
		{"List", testList},
		{"CanceledContext", testCanceledContext},
		{"WatchReplayThenLive", testWatchReplayThenLive},
		{"WatchEvents", testWatchEvents},
		{"WatchPrefix", testWatchPrefix},
		{"WatchFutureRevision", testWatchFutureRevision},
		{"WatchNoGapUnderConcurrentWrites", testWatchNoGap},
		{"WatchSlowConsumer", testWatchSlowConsumer},
		{"WatchContextCancel", testWatchCancel},
		{"Compact", testCompact},
		{"CompactDuringReplay", testCompactDuringReplay},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			t.Cleanup(func() { b.Close() })
			tc.run(t, b)
		})
	}
}

func mustCreate(t *testing.T, b storage.Backend, key, value string) int64 {
	t.Helper()
	rev, err := b.Create(context.Background(), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	return rev
}

func mustUpdate(t *testing.T, b storage.Backend, key, value string, expected int64) int64 {
	t.Helper()
	rev, err := b.Update(context.Background(), key, []byte(value), expected)
	if err != nil {
		t.Fatalf("Update(%q, %d): %v", key, expected, err)
	}
	return rev
}

func mustDelete(t *testing.T, b storage.Backend, key string, expected int64) int64 {
	t.Helper()
	rev, err := b.Delete(context.Background(), key, expected)
	if err != nil {
		t.Fatalf("Delete(%q, %d): %v", key, expected, err)
	}
	return rev
}

func mustGet(t *testing.T, b storage.Backend, key string) storage.KeyValue {
	t.Helper()
	kv, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return kv
}

func mustRevision(t *testing.T, b storage.Backend) int64 {
	t.Helper()
	rev, err := b.CurrentRevision(context.Background())
	if err != nil {
		t.Fatalf("CurrentRevision: %v", err)
	}
	return rev
}

func mustWatch(t *testing.T, ctx context.Context, b storage.Backend, prefix string, after int64) <-chan storage.Event {
	t.Helper()
	ch, err := b.Watch(ctx, prefix, after)
	if err != nil {
		t.Fatalf("Watch(%q, %d): %v", prefix, after, err)
	}
	return ch
}

// recv returns the next event, failing if none comes or the channel closes.
func recv(t *testing.T, ch <-chan storage.Event) storage.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want an event")
		}
		return ev
	case <-time.After(timeout):
		t.Fatal("no watch event")
	}
	return storage.Event{}
}

// waitClosed drains ch until it closes.
func waitClosed(t *testing.T, ch <-chan storage.Event) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed")
		}
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// kvString prints every field, so a mismatch shows what differs.
func kvString(kv *storage.KeyValue) string {
	if kv == nil {
		return "<nil>"
	}
	return fmt.Sprintf("{%q %q create=%d mod=%d}", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision)
}

func eventString(ev storage.Event) string {
	return fmt.Sprintf("%v %s prev=%s", ev.Type, kvString(&ev.KV), kvString(ev.PrevKV))
}

func checkKV(t *testing.T, what string, got storage.KeyValue, want storage.KeyValue) {
	t.Helper()
	if kvString(&got) != kvString(&want) {
		t.Errorf("%s = %s, want %s", what, kvString(&got), kvString(&want))
	}
}

func checkEvent(t *testing.T, got, want storage.Event) {
	t.Helper()
	if g, w := eventString(got), eventString(want); g != w {
		t.Errorf("event\n got  %s\n want %s", g, w)
	}
}

func keysOf(kvs []storage.KeyValue) string {
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = kv.Key
	}
	return strings.Join(keys, " ")
}
