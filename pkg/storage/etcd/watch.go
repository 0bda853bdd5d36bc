package etcd

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"

	"github.com/skiffhq/skiff/pkg/storage"
)

// Watch streams the events under prefix after afterRevision, then live ones. It
// fails with storage.ErrCompacted when afterRevision is older than the revision
// etcd's history is compacted to. The channel closes when ctx ends, when the
// backend closes, when the watcher falls WithWatchBuffer events behind, and when
// etcd ends the watch (a compaction overtook its replay, the member lost its
// leader, an error): the caller then watches again from the last revision it saw.
//
// Besides the Progress events RequestProgress asks for, a watch sends one unasked
// whenever it has sent nothing for etcd's --watch-progress-notify-interval (10
// minutes unless set) and has caught up: etcd sends those to watches made with
// clientv3.WithProgressNotify, as these are.
func (b *Backend) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan storage.Event, error) {
	if err := b.begin(ctx); err != nil {
		return nil, err
	}
	start, end, err := b.span(prefix)
	if err != nil {
		return nil, err
	}
	after := max(afterRevision, 0)
	if err := b.checkHistory(ctx, prefix, after); err != nil {
		return nil, err
	}

	// A member cut off from its leader ends the watch rather than serve events that
	// may be stale; the caller watches again, through a member that has one.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	md, _ := metadata.FromOutgoingContext(wctx)
	w := &watch{ctx: wctx, watcher: clientv3.NewWatcher(b.client), md: md}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		cancel()
		w.watcher.Close()
		return nil, storage.ErrClosed
	}
	b.watchers.Add(1)
	b.watches[w] = struct{}{}
	b.mu.Unlock()

	stop := context.AfterFunc(b.closing, cancel)
	// Progress notifications carry no event, but let clientv3 resume a broken
	// stream from the revision they report rather than the last event's.
	wch := w.watcher.Watch(wctx, start,
		clientv3.WithRange(end),
		clientv3.WithRev(after+1),
		clientv3.WithPrevKV(),
		clientv3.WithProgressNotify())
	out := make(chan storage.Event, b.opts.watchBuffer)
	go func() {
		defer b.watchers.Done()
		defer close(out)
		defer b.untrack(w)
		defer stop()
		defer cancel() // ends etcd's watch too when this one stops on its own
		b.forward(wctx, wch, out)
	}()
	return out, nil
}

// watch is one open Watch. It has a clientv3 watcher, and so a gRPC stream, of its
// own: etcd answers a progress request only when every watch on the stream it
// comes on has caught up, so one watch replaying old history would silence the
// others' progress if they shared a stream.
type watch struct {
	ctx     context.Context // ends when the watch does
	watcher clientv3.Watcher
	// md is the gRPC metadata the watch's stream was opened with; clientv3 finds
	// a stream by its metadata, so a progress request must carry the same.
	md metadata.MD
}

// untrack forgets an ended watch and closes its watcher, with any stream a
// progress request opened there after the watch's own had gone.
func (b *Backend) untrack(w *watch) {
	b.mu.Lock()
	delete(b.watches, w)
	b.mu.Unlock()
	w.watcher.Close()
}

// forward moves events from etcd's watch to out until one of them ends. It reads
// etcd's channel as fast as it comes, so a watcher that stops reading fills its own
// buffer and is dropped, rather than have clientv3 hold its backlog without bound.
func (b *Backend) forward(ctx context.Context, wch clientv3.WatchChan, out chan<- storage.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case resp, ok := <-wch:
			if !ok {
				return
			}
			if resp.CompactRevision != 0 {
				b.sawCompacted(resp.CompactRevision)
			}
			if resp.Canceled || resp.Err() != nil {
				return
			}
			if resp.IsProgressNotify() {
				// Every event up to the header's revision has been sent.
				select {
				case out <- storage.Event{Type: storage.Progress, KV: storage.KeyValue{ModRevision: resp.Header.Revision}}:
				default:
					return // fell behind
				}
				continue
			}
			for _, ev := range resp.Events {
				select {
				case out <- b.event(ev):
				default:
					return // fell behind
				}
			}
		}
	}
}

// checkHistory fails with storage.ErrCompacted when history after `after` is gone.
// etcd's own watch would not: it starts a watch at exactly the compacted revision
// like any other (it keeps the state at that revision, which the contract counts
// as forgotten), and a watch from below it is made and then canceled at once with
// CompactRevision set, which would reach the caller as a closed channel. A read at
// revision `after` fails exactly when after is older than the compacted revision,
// the contract's rule, and before Watch returns.
func (b *Backend) checkHistory(ctx context.Context, prefix string, after int64) error {
	if after >= b.compacted.Load() {
		compacted, err := b.compactedAt(ctx, max(after, 1))
		if err != nil {
			return b.fail(ctx, fmt.Sprintf("watch prefix %q", prefix), err)
		}
		if !compacted {
			return nil
		}
		b.sawCompacted(after + 1)
	}
	return fmt.Errorf("watch prefix %q after revision %d: %w", prefix, after, storage.ErrCompacted)
}

// event converts an etcd event. A delete carries the key's last value at the
// revision of the delete, taken from the previous value etcd sends with it.
func (b *Backend) event(ev *clientv3.Event) storage.Event {
	kv := b.keyValue(ev.Kv)
	var prev *storage.KeyValue
	if ev.PrevKv != nil {
		p := b.keyValue(ev.PrevKv)
		prev = &p
	}
	switch {
	case ev.Type == clientv3.EventTypeDelete:
		if prev != nil {
			kv.Value, kv.CreateRevision = prev.Value, prev.CreateRevision
		}
		return storage.Event{Type: storage.Deleted, KV: kv, PrevKV: prev}
	case ev.IsCreate():
		return storage.Event{Type: storage.Created, KV: kv}
	default:
		return storage.Event{Type: storage.Updated, KV: kv, PrevKV: prev}
	}
}

// RequestProgress makes every watch of this backend send a Progress event at
// etcd's current revision once it has sent the events before it. A watch still
// replaying history sends none (etcd drops the request for a watch that has not
// caught up); the events still to come take its caller there. The request goes to
// each watch's own stream, so one behind does not keep it from the others.
func (b *Backend) RequestProgress(ctx context.Context) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	watches := make([]*watch, 0, len(b.watches))
	for w := range b.watches {
		watches = append(watches, w)
	}
	b.mu.Unlock()
	var errs []error
	for _, w := range watches {
		err := w.watcher.RequestProgress(metadata.NewOutgoingContext(ctx, w.md))
		// A watch that ended meanwhile needs no progress.
		if err != nil && w.ctx.Err() == nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return b.fail(ctx, "request watch progress", err)
	}
	return nil
}
