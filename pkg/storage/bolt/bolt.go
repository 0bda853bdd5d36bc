// Package bolt is Skiff's default storage.Backend: one bbolt file on local disk,
// embedded in the server process.
//
// A write is durable (fsynced) when its method returns, so it survives kill -9. All
// writes go through one writer goroutine that applies every write waiting for it in a
// single transaction and a single fsync (group commit): a lone writer commits at once,
// concurrent writers share fsyncs. Every write gets the next revision of one global
// counter kept in the file, and its event is appended to a log that Watch replays
// until Compact removes it.
//
// It must not know about Kubernetes objects, and it must not be opened by two
// processes at once (bbolt's file lock refuses the second). It must never let a slow
// watcher hold up writers: such a watcher's channel is closed instead.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/internal/fanout"
)

// Backend is a storage.Backend on a bbolt file. Events sent to watchers share their
// values and must not be modified.
type Backend struct {
	db   *bbolt.DB
	opts options
	hub  *fanout.Hub

	requests   chan *request
	closing    chan struct{} // closed by Close: the writer stops taking requests
	writerDone chan struct{} // closed when the writer has answered its last request

	rev       atomic.Int64 // last committed revision
	compacted atomic.Int64 // last committed compaction

	closed     atomic.Bool
	closeOnce  sync.Once
	stopAuto   context.CancelFunc
	autoDone   chan struct{}
	compactNow chan struct{} // wakes autoCompact before its tick
	closeError error
}

var _ storage.Backend = (*Backend)(nil)

// Open opens or creates the database file at path.
func Open(path string, opts ...Option) (*Backend, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: o.lockTimeout,
		// etcd's settings: the freelist is rebuilt on open instead of written on every
		// commit, and the hashmap freelist stays fast when the file is fragmented.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open storage %q: %w", path, err)
	}
	rev, compacted, err := initialize(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open storage %q: %w", path, err)
	}
	b := &Backend{
		db:         db,
		opts:       o,
		hub:        fanout.New(rev, compacted, o.watchBuffer),
		requests:   make(chan *request, maxBatch),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		autoDone:   make(chan struct{}),
		compactNow: make(chan struct{}, 1),
	}
	b.rev.Store(rev)
	b.compacted.Store(compacted)
	go b.runWriter()

	ctx, cancel := context.WithCancel(context.Background())
	b.stopAuto = cancel
	if o.compactEvery > 0 {
		go b.autoCompact(ctx)
	} else {
		close(b.autoDone)
	}
	return b, nil
}

// initialize creates the buckets of a new file, or checks the format of an existing
// one, and returns its current and compacted revisions.
func initialize(db *bbolt.DB) (rev, compacted int64, err error) {
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{keysBucket, logBucket, metaBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %q: %w", name, err)
			}
		}
		meta := tx.Bucket(metaBucket)
		if v := meta.Get(formatKey); v == nil {
			if err := meta.Put(formatKey, revKey(format)); err != nil {
				return err
			}
		} else if f, err := decodeRev(v); err != nil || f != format {
			return fmt.Errorf("file format %x, want %d", v, format)
		}
		if rev, err = readMeta(meta, revisionKey); err != nil {
			return err
		}
		compacted, err = readMeta(meta, compactedKey)
		return err
	})
	return rev, compacted, err
}

func readMeta(meta *bbolt.Bucket, key []byte) (int64, error) {
	v := meta.Get(key)
	if v == nil {
		return 0, nil
	}
	n, err := decodeRev(v)
	if err != nil {
		return 0, fmt.Errorf("meta %q: %w", key, err)
	}
	return n, nil
}

// Close stops the writer, closes every watch channel and closes the file. Writes that
// were queued but not yet committed fail with storage.ErrClosed.
func (b *Backend) Close() error {
	first := false
	b.closeOnce.Do(func() {
		first = true
		b.closed.Store(true)
		b.stopAuto()
		<-b.autoDone
		close(b.closing)
		<-b.writerDone
		b.hub.Close()
		b.closeError = b.db.Close()
	})
	if !first {
		return storage.ErrClosed
	}
	return b.closeError
}

// begin checks what every call checks first.
func (b *Backend) begin(ctx context.Context) error {
	if b.closed.Load() {
		return storage.ErrClosed
	}
	return ctx.Err()
}

// dbError turns bbolt's error for a closed file into ours: a read can race Close.
func dbError(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return storage.ErrClosed
	}
	return err
}
