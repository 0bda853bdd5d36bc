package fanout

import (
	"context"

	"github.com/skiffhq/skiff/pkg/storage"
)

// watcher is one Watch call. Publish fills live while run replays history into out;
// run then forwards live to out. Keeping the two apart is what lets the committer
// go on publishing while a long replay is still being read.
type watcher struct {
	hub    *Hub
	prefix string
	// from is the revision the watch starts after. Publish can still carry events at
	// or below it: a backend may have committed a revision, and a caller read it,
	// before the commit is published.
	from    int64
	live    chan storage.Event
	out     chan storage.Event
	dropped bool // guarded by hub.mu; live is closed once it is set
}

func (w *watcher) run(ctx context.Context, history History, after, upto int64) {
	defer w.hub.wg.Done()
	defer close(w.out)
	defer w.hub.remove(w)

	for after < upto {
		events, scanned, err := history(w.prefix, after, upto, replayChunk)
		if err != nil || scanned <= after {
			// Compacted under us, or the store closed. Closing the channel makes the
			// caller watch again from its last revision and learn which.
			return
		}
		for _, ev := range events {
			if !w.send(ctx, ev) {
				return
			}
		}
		after = scanned
	}
	for {
		select {
		case ev, ok := <-w.live:
			if !ok {
				return
			}
			if !w.send(ctx, ev) {
				return
			}
		case <-ctx.Done():
			return
		case <-w.hub.done:
			return
		}
	}
}

func (w *watcher) send(ctx context.Context, ev storage.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	case <-w.hub.done:
		return false
	}
}
