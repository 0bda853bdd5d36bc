// Package memory is an in-memory storage.Backend with the same semantics as the
// embedded bolt backend: one global revision, compare-and-swap writes, and watches that
// replay history then follow live writes with no gap. It exists for unit tests of other
// packages and for scale tests (hollow nodes), so that everyone uses the same fake.
//
// It must not be used where data has to survive the process: nothing is written to
// disk. History grows until Compact is called, unless WithHistoryLimit is set.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/internal/fanout"
)

var errEmptyKey = errors.New("empty key")

// Option configures a Backend.
type Option func(*options)

type options struct {
	watchBuffer  int
	historyLimit int64
}

// WithWatchBuffer sets how many events a watcher may lag behind before its channel is
// closed (default 1024).
func WithWatchBuffer(n int) Option { return func(o *options) { o.watchBuffer = n } }

// WithHistoryLimit compacts automatically so that at least the last n revisions of
// history stay available to Watch. Zero, the default, keeps everything.
func WithHistoryLimit(n int64) Option { return func(o *options) { o.historyLimit = n } }

// Backend is an in-memory storage.Backend. Values are copied in and out; events sent
// to watchers share their values and must not be modified.
type Backend struct {
	opts options
	hub  *fanout.Hub

	mu        sync.RWMutex
	closed    bool
	rev       int64
	compacted int64
	data      map[string]storage.KeyValue
	keys      []string        // sorted, for List
	log       []storage.Event // log[i] has revision compacted+1+i
}

var _ storage.Backend = (*Backend)(nil)

// New returns an empty backend.
func New(opts ...Option) *Backend {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return &Backend{
		opts: o,
		hub:  fanout.New(0, 0, o.watchBuffer),
		data: map[string]storage.KeyValue{},
	}
}

// Get returns the current value of key.
func (b *Backend) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	if err := ctx.Err(); err != nil {
		return storage.KeyValue{}, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return storage.KeyValue{}, storage.ErrClosed
	}
	kv, ok := b.data[key]
	if !ok {
		return storage.KeyValue{}, fmt.Errorf("key %q: %w", key, storage.ErrNotFound)
	}
	return clone(kv), nil
}

// List returns the keys under prefix in byte order and the current revision.
func (b *Backend) List(ctx context.Context, prefix string) ([]storage.KeyValue, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, 0, storage.ErrClosed
	}
	i, _ := slices.BinarySearch(b.keys, prefix)
	var out []storage.KeyValue
	for ; i < len(b.keys) && strings.HasPrefix(b.keys[i], prefix); i++ {
		out = append(out, clone(b.data[b.keys[i]]))
	}
	return out, b.rev, nil
}

// Create stores a new key.
func (b *Backend) Create(ctx context.Context, key string, value []byte) (int64, error) {
	return b.write(ctx, key, func() (storage.Event, error) {
		if _, ok := b.data[key]; ok {
			return storage.Event{}, fmt.Errorf("key %q: %w", key, storage.ErrKeyExists)
		}
		rev := b.rev + 1
		kv := storage.KeyValue{Key: key, Value: bytes.Clone(value), CreateRevision: rev, ModRevision: rev}
		b.data[key] = kv
		i, _ := slices.BinarySearch(b.keys, key)
		b.keys = slices.Insert(b.keys, i, key)
		return storage.Event{Type: storage.Created, KV: kv}, nil
	})
}

// Update replaces the value of key if its ModRevision is expectedRevision (or if
// expectedRevision is 0).
func (b *Backend) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	return b.write(ctx, key, func() (storage.Event, error) {
		prev, err := b.current(key, expectedRevision)
		if err != nil {
			return storage.Event{}, err
		}
		kv := storage.KeyValue{Key: key, Value: bytes.Clone(value), CreateRevision: prev.CreateRevision, ModRevision: b.rev + 1}
		b.data[key] = kv
		return storage.Event{Type: storage.Updated, KV: kv, PrevKV: &prev}, nil
	})
}

// Delete removes key if its ModRevision is expectedRevision (or if expectedRevision
// is 0).
func (b *Backend) Delete(ctx context.Context, key string, expectedRevision int64) (int64, error) {
	return b.write(ctx, key, func() (storage.Event, error) {
		prev, err := b.current(key, expectedRevision)
		if err != nil {
			return storage.Event{}, err
		}
		delete(b.data, key)
		if i, ok := slices.BinarySearch(b.keys, key); ok {
			b.keys = slices.Delete(b.keys, i, i+1)
		}
		kv := prev
		kv.ModRevision = b.rev + 1
		return storage.Event{Type: storage.Deleted, KV: kv, PrevKV: &prev}, nil
	})
}

// current returns the stored value of key and checks it against expectedRevision.
// b.mu must be held.
func (b *Backend) current(key string, expectedRevision int64) (storage.KeyValue, error) {
	kv, ok := b.data[key]
	if !ok {
		return storage.KeyValue{}, fmt.Errorf("key %q: %w", key, storage.ErrNotFound)
	}
	if expectedRevision != 0 && expectedRevision != kv.ModRevision {
		return storage.KeyValue{}, fmt.Errorf("key %q: expected revision %d, stored %d: %w", key, expectedRevision, kv.ModRevision, storage.ErrConflict)
	}
	return kv, nil
}

// write runs apply under the lock; on success the event takes the next revision.
func (b *Backend) write(ctx context.Context, key string, apply func() (storage.Event, error)) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if key == "" {
		return 0, errEmptyKey
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, storage.ErrClosed
	}
	ev, err := apply()
	if err != nil {
		return 0, err
	}
	b.rev++
	b.log = append(b.log, ev)
	// Publishing under b.mu keeps commits in revision order.
	b.hub.Publish(b.rev, []storage.Event{ev})
	if limit := b.opts.historyLimit; limit > 0 && int64(len(b.log)) >= 2*limit {
		b.compactLocked(b.rev - limit)
	}
	return b.rev, nil
}

// Watch streams the events under prefix after afterRevision, then live ones.
func (b *Backend) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan storage.Event, error) {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return nil, storage.ErrClosed
	}
	return b.hub.Watch(ctx, prefix, afterRevision, b.history)
}

func (b *Backend) history(prefix string, after, upto int64, limit int) ([]storage.Event, int64, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, 0, storage.ErrClosed
	}
	if after < b.compacted {
		return nil, 0, fmt.Errorf("history after revision %d, compacted up to %d: %w", after, b.compacted, storage.ErrCompacted)
	}
	last := min(upto, after+int64(limit), b.rev)
	var out []storage.Event
	for _, ev := range b.log[after-b.compacted : last-b.compacted] {
		if strings.HasPrefix(ev.KV.Key, prefix) {
			out = append(out, ev)
		}
	}
	return out, last, nil
}

// Compact forgets history up to and including revision.
func (b *Backend) Compact(ctx context.Context, revision int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return storage.ErrClosed
	}
	if revision > b.rev {
		return fmt.Errorf("compact to revision %d: beyond current revision %d", revision, b.rev)
	}
	b.compactLocked(revision)
	return nil
}

func (b *Backend) compactLocked(revision int64) {
	if revision <= b.compacted {
		return
	}
	b.hub.SetCompacted(revision)
	// Copy so the dropped events can be collected.
	b.log = append([]storage.Event(nil), b.log[revision-b.compacted:]...)
	b.compacted = revision
}

// CompactedRevision returns the revision history was last compacted up to.
func (b *Backend) CompactedRevision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return 0, storage.ErrClosed
	}
	return b.compacted, nil
}

// CurrentRevision returns the revision of the last write.
func (b *Backend) CurrentRevision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return 0, storage.ErrClosed
	}
	return b.rev, nil
}

// Close closes every watch channel. Later calls fail with storage.ErrClosed.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return storage.ErrClosed
	}
	b.closed = true
	b.data, b.keys, b.log = nil, nil, nil
	b.mu.Unlock()
	b.hub.Close()
	return nil
}

func clone(kv storage.KeyValue) storage.KeyValue {
	kv.Value = bytes.Clone(kv.Value)
	return kv
}
