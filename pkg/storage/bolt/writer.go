package bolt

import (
	"bytes"
	"context"
	"fmt"
	"runtime"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiffhq/skiff/pkg/storage"
)

// maxBatch bounds how many requests share one transaction, so that one commit, and
// the wait of the first caller in it, stays short.
const maxBatch = 1024

// compactChunk bounds how many log entries one compaction step deletes, so that a
// large compaction does not hold up writes. A variable so tests can make it small.
var compactChunk int64 = 10000

type opKind uint8

const (
	opCreate opKind = iota + 1
	opUpdate
	opDelete
	opCompact
)

// request is one write waiting for the writer goroutine.
type request struct {
	ctx   context.Context
	op    opKind
	key   string
	value []byte // owned by the request: callers' slices are copied
	// revision is the expected revision of an update or delete, or the target of a
	// compaction.
	revision int64
	result   chan result // buffered: the writer never waits for the caller
}

type result struct {
	rev  int64
	done bool // compaction reached its target
	err  error
}

// submit hands r to the writer and waits for its answer. If ctx ends after the writer
// took r, the write may still commit; the caller cannot tell, as with any database.
func (b *Backend) submit(ctx context.Context, r *request) result {
	if err := b.begin(ctx); err != nil {
		return result{err: err}
	}
	r.ctx = ctx
	r.result = make(chan result, 1)
	select {
	case b.requests <- r:
	case <-ctx.Done():
		return result{err: ctx.Err()}
	case <-b.closing:
		return result{err: storage.ErrClosed}
	}
	select {
	case res := <-r.result:
		return res
	case <-ctx.Done():
		return result{err: ctx.Err()}
	case <-b.writerDone:
		// The writer answers everything it took before it stops.
		select {
		case res := <-r.result:
			return res
		default:
			return result{err: storage.ErrClosed}
		}
	}
}

// runWriter is the only goroutine that writes to the file. It takes every request
// already waiting, commits them in one transaction, and answers them all.
func (b *Backend) runWriter() {
	defer close(b.writerDone)
	batch := make([]*request, 0, maxBatch)
	for {
		select {
		case r := <-b.requests:
			batch = append(batch, r)
		case <-b.closing:
			b.failQueued()
			return
		}
		b.gather(&batch)
		if len(batch) < maxBatch {
			// Writers that are running now are about to ask: give them the
			// moment it takes, so that they share this commit's fsync instead
			// of each waiting for one of their own. A lone writer pays for
			// one trip through the run queue, not a timer.
			runtime.Gosched()
			b.gather(&batch)
		}
		b.commit(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// gather adds the requests already waiting to batch, up to maxBatch.
func (b *Backend) gather(batch *[]*request) {
	for len(*batch) < maxBatch {
		select {
		case r := <-b.requests:
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

func (b *Backend) failQueued() {
	for {
		select {
		case r := <-b.requests:
			r.result <- result{err: storage.ErrClosed}
		default:
			return
		}
	}
}

// batchTx is the state of one group commit.
type batchTx struct {
	keys, log, meta *bbolt.Bucket
	rev             int64
	compacted       int64
	events          []storage.Event
}

func (b *Backend) commit(batch []*request) {
	results := make([]result, len(batch))
	answer := func() {
		for i, r := range batch {
			r.result <- results[i]
		}
	}
	failAll := func(err error) {
		for i := range results {
			results[i] = result{err: err}
		}
		answer()
	}

	tx, err := b.db.Begin(true)
	if err != nil {
		failAll(fmt.Errorf("begin write: %w", dbError(err)))
		return
	}
	t := &batchTx{
		keys:      tx.Bucket(keysBucket),
		log:       tx.Bucket(logBucket),
		meta:      tx.Bucket(metaBucket),
		rev:       b.rev.Load(),
		compacted: b.compacted.Load(),
	}
	// Revisions only grow at the end of the log, so full pages split best.
	t.log.FillPercent = 1.0
	startRev, startCompacted := t.rev, t.compacted

	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = result{err: err}
			continue
		}
		res, fatal := t.apply(r)
		if fatal != nil {
			// Only a broken transaction gets here (the ops validate their input); it
			// may hold half of this op, so none of the batch can commit.
			tx.Rollback()
			failAll(fatal)
			return
		}
		results[i] = res
	}

	if t.rev == startRev && t.compacted == startCompacted {
		// Nothing to write: every op failed validation. Skip the fsync.
		tx.Rollback()
		answer()
		return
	}
	if err := t.meta.Put(revisionKey, revKey(t.rev)); err != nil {
		tx.Rollback()
		failAll(err)
		return
	}
	if t.compacted != startCompacted {
		if err := t.meta.Put(compactedKey, revKey(t.compacted)); err != nil {
			tx.Rollback()
			failAll(err)
			return
		}
		// Before the commit, so that no new watch starts a replay of entries that are
		// about to go.
		b.hub.SetCompacted(t.compacted)
	}
	if err := tx.Commit(); err != nil {
		failAll(fmt.Errorf("commit: %w", err))
		return
	}
	b.rev.Store(t.rev)
	b.compacted.Store(t.compacted)
	// Publish before answering: once a caller has its revision, a watch from any
	// earlier revision sees the write.
	b.hub.Publish(t.rev, t.events)
	answer()
	b.historyLong(t.rev, t.compacted)
}

// apply runs one op inside the batch transaction. A failed validation is the op's
// result; only a failure of the transaction itself is returned as fatal.
func (t *batchTx) apply(r *request) (res result, fatal error) {
	switch r.op {
	case opCompact:
		return t.compact(r.revision)
	case opCreate:
		if t.keys.Get([]byte(r.key)) != nil {
			return result{err: fmt.Errorf("key %q: %w", r.key, storage.ErrKeyExists)}, nil
		}
		rev := t.rev + 1
		kv := storage.KeyValue{Key: r.key, Value: r.value, CreateRevision: rev, ModRevision: rev}
		return t.write(storage.Event{Type: storage.Created, KV: kv})
	}

	buf := t.keys.Get([]byte(r.key))
	if buf == nil {
		return result{err: fmt.Errorf("key %q: %w", r.key, storage.ErrNotFound)}, nil
	}
	prev, err := decodeRecord(r.key, buf)
	if err != nil {
		return result{err: err}, nil
	}
	if r.revision != 0 && r.revision != prev.ModRevision {
		return result{err: fmt.Errorf("key %q: expected revision %d, stored %d: %w", r.key, r.revision, prev.ModRevision, storage.ErrConflict)}, nil
	}
	kv := storage.KeyValue{Key: r.key, Value: r.value, CreateRevision: prev.CreateRevision, ModRevision: t.rev + 1}
	if r.op == opDelete {
		kv.Value = prev.Value
		return t.write(storage.Event{Type: storage.Deleted, KV: kv, PrevKV: &prev})
	}
	return t.write(storage.Event{Type: storage.Updated, KV: kv, PrevKV: &prev})
}

// write stores ev's key and log entry at the next revision.
func (t *batchTx) write(ev storage.Event) (result, error) {
	key := []byte(ev.KV.Key)
	var err error
	if ev.Type == storage.Deleted {
		err = t.keys.Delete(key)
	} else {
		err = t.keys.Put(key, encodeRecord(ev.KV.CreateRevision, ev.KV.ModRevision, ev.KV.Value))
	}
	if err != nil {
		return result{}, fmt.Errorf("key %q: %w", ev.KV.Key, err)
	}
	if err := t.log.Put(revKey(ev.KV.ModRevision), encodeEvent(ev)); err != nil {
		return result{}, fmt.Errorf("log revision %d: %w", ev.KV.ModRevision, err)
	}
	t.rev = ev.KV.ModRevision
	t.events = append(t.events, ev)
	return result{rev: t.rev}, nil
}

// compact deletes up to compactChunk log entries at or below target.
func (t *batchTx) compact(target int64) (result, error) {
	if target > t.rev {
		return result{err: fmt.Errorf("compact to revision %d: beyond current revision %d", target, t.rev)}, nil
	}
	if target <= t.compacted {
		return result{done: true}, nil
	}
	upto := min(target, t.compacted+compactChunk)
	var doomed [][]byte
	last := revKey(upto)
	c := t.log.Cursor()
	// Collect first: deleting under a moving bbolt cursor can skip entries.
	for k, _ := c.First(); k != nil && bytes.Compare(k, last) <= 0; k, _ = c.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		if err := t.log.Delete(k); err != nil {
			return result{}, fmt.Errorf("compact log: %w", err)
		}
	}
	t.compacted = upto
	return result{done: upto == target}, nil
}
