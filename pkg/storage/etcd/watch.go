package etcd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiffhq/skiff/pkg/storage"
)

// Watch streams the events under prefix after afterRevision, then live ones. It
// fails with storage.ErrCompacted when afterRevision is older than the revision
// etcd's history is compacted to. The channel closes when ctx ends, when the backend closes, when the
// watcher falls WithWatchBuffer events behind, and when etcd ends the watch (a
// compaction overtook its replay, the member lost its leader, an error): the caller
// then watches again from the last revision it saw.
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

	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil, storage.ErrClosed
	}
	b.watchers.Add(1)
	b.mu.Unlock()

	// A member cut off from its leader ends the watch rather than serve events that
	// may be stale; the caller watches again, through a member that has one.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	stop := context.AfterFunc(b.closing, cancel)
	// Progress notifications carry no event, but let clientv3 resume a broken
	// stream from the revision they report rather than the last event's.
	wch := b.client.Watch(wctx, start,
		clientv3.WithRange(end),
		clientv3.WithRev(after+1),
		clientv3.WithPrevKV(),
		clientv3.WithProgressNotify())
	out := make(chan storage.Event, b.opts.watchBuffer)
	go func() {
		defer b.watchers.Done()
		defer close(out)
		defer stop()
		defer cancel() // ends etcd's watch too when this one stops on its own
		b.forward(wctx, wch, out)
	}()
	return out, nil
}

// forward moves events from etcd's watch to out until one of them ends. It reads
// etcd's channel as fast as it comes, so a watcher that stops reading fills its own
// buffer and is dropped, and never holds up the gRPC stream it shares with others.
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
// etcd itself would start a watch from the compacted revision (it keeps the state at
// that revision), and reports a compaction only later, on the watch; a read at
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
// etcd's current revision once it has sent the events before it. Watches
// share one stream (their contexts carry the same metadata), which is the
// stream the request goes to.
func (b *Backend) RequestProgress(ctx context.Context) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	if err := b.client.RequestProgress(clientv3.WithRequireLeader(ctx)); err != nil {
		return b.fail(ctx, "request watch progress", err)
	}
	return nil
}
