// Package fanout delivers committed storage events to watchers, shared by the Skiff
// storage backends so that they all keep the same watch guarantees: a watch first
// replays history that its backend reads for it, then continues with live events,
// with no gap and no duplicate between the two.
//
// It must never block the committer: a watcher that falls behind is dropped and its
// channel closed, and the watcher resumes from the last revision it saw. It must not
// know how a backend stores its history.
package fanout

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/skiffhq/skiff/pkg/storage"
)

// DefaultBuffer is how many events a watcher may have in flight before it is dropped,
// counted twice: once for events waiting to be read, once for live events queued
// behind a replay.
const DefaultBuffer = 1024

// replayChunk bounds how many revisions one History call scans, so a backend never
// holds a read transaction open while a slow watcher reads.
const replayChunk = 512

// History reads committed events for a replay. It returns the events under prefix with
// a revision in (after, upto], in revision order, scanning at most limit revisions, and
// the last revision it scanned. It fails with storage.ErrCompacted when history after
// `after` is no longer complete.
type History func(prefix string, after, upto int64, limit int) (events []storage.Event, scanned int64, err error)

// Hub hands the events of each commit to the watchers whose prefix matches.
type Hub struct {
	buffer int
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	mu        sync.Mutex
	rev       int64 // revision of the last published commit
	compacted int64
	closed    bool
	watchers  map[*watcher]struct{}
}

// New returns a hub for a store whose current and compacted revisions are rev and
// compacted. buffer <= 0 means DefaultBuffer.
func New(rev, compacted int64, buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{
		buffer:    buffer,
		done:      make(chan struct{}),
		rev:       rev,
		compacted: compacted,
		watchers:  map[*watcher]struct{}{},
	}
}

// Publish hands one commit to the watchers. rev is the store's revision after the
// commit. The committer publishes its commits one at a time, in revision order, and
// before it acknowledges them. Publish never blocks on a watcher.
func (h *Hub) Publish(rev int64, events []storage.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev > h.rev {
		h.rev = rev
	}
	for w := range h.watchers {
		h.deliverLocked(w, events)
	}
}

// SetCompacted records that history up to and including rev is gone. A backend calls
// it before the compaction becomes visible to readers, so that no new watch starts
// replaying history that is about to disappear.
func (h *Hub) SetCompacted(rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev > h.compacted {
		h.compacted = rev
	}
}

// Watch starts a watcher for the events under prefix with a revision greater than
// after. It replays the events up to the last published revision through history,
// then delivers live ones. The channel closes when ctx ends, when the hub closes, or
// when the watcher falls behind.
func (h *Hub) Watch(ctx context.Context, prefix string, after int64, history History) (<-chan storage.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if after < 0 {
		after = 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, storage.ErrClosed
	}
	if after < h.compacted {
		return nil, fmt.Errorf("watch %q after revision %d, compacted up to %d: %w", prefix, after, h.compacted, storage.ErrCompacted)
	}
	// Registering under the lock splits the stream at h.rev: history covers
	// (after, h.rev], and Publish hands the watcher only later commits.
	w := &watcher{
		hub:    h,
		prefix: prefix,
		from:   after,
		live:   make(chan storage.Event, h.buffer),
		out:    make(chan storage.Event, h.buffer),
	}
	h.watchers[w] = struct{}{}
	h.wg.Add(1)
	go w.run(ctx, history, after, h.rev)
	return w.out, nil
}

// Close closes every watcher channel and waits for the watchers to stop. Watch fails
// with storage.ErrClosed afterwards.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	for w := range h.watchers {
		h.dropLocked(w)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *Hub) deliverLocked(w *watcher, events []storage.Event) {
	for _, ev := range events {
		if ev.Revision() <= w.from || !strings.HasPrefix(ev.KV.Key, w.prefix) {
			continue
		}
		select {
		case w.live <- ev:
		default:
			// Too far behind: drop it rather than stall every writer.
			h.dropLocked(w)
			return
		}
	}
}

func (h *Hub) dropLocked(w *watcher) {
	if w.dropped {
		return
	}
	w.dropped = true
	delete(h.watchers, w)
	close(w.live)
}

func (h *Hub) remove(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(w)
}
