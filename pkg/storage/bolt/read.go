package bolt

import (
	"bytes"
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiffhq/skiff/pkg/storage"
)

// Get returns the current value of key.
func (b *Backend) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	if err := b.begin(ctx); err != nil {
		return storage.KeyValue{}, err
	}
	var kv storage.KeyValue
	err := b.db.View(func(tx *bbolt.Tx) error {
		buf := tx.Bucket(keysBucket).Get([]byte(key))
		if buf == nil {
			return fmt.Errorf("key %q: %w", key, storage.ErrNotFound)
		}
		var err error
		kv, err = decodeRecord(key, buf)
		return err
	})
	return kv, dbError(err)
}

// List returns the keys under prefix in byte order, and the revision of the same
// snapshot.
func (b *Backend) List(ctx context.Context, prefix string) ([]storage.KeyValue, int64, error) {
	if err := b.begin(ctx); err != nil {
		return nil, 0, err
	}
	var (
		out []storage.KeyValue
		rev int64
	)
	err := b.db.View(func(tx *bbolt.Tx) error {
		var err error
		if rev, err = readMeta(tx.Bucket(metaBucket), revisionKey); err != nil {
			return err
		}
		p := []byte(prefix)
		c := tx.Bucket(keysBucket).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			kv, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, kv)
		}
		return nil
	})
	if err != nil {
		return nil, 0, dbError(err)
	}
	return out, rev, nil
}

// CurrentRevision returns the revision of the last committed write.
func (b *Backend) CurrentRevision(ctx context.Context) (int64, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	return b.rev.Load(), nil
}

// CompactedRevision returns the revision history was last compacted up to.
func (b *Backend) CompactedRevision(ctx context.Context) (int64, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	return b.compacted.Load(), nil
}

// Watch streams the events under prefix after afterRevision, then live ones.
func (b *Backend) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan storage.Event, error) {
	if err := b.begin(ctx); err != nil {
		return nil, err
	}
	return b.hub.Watch(ctx, prefix, afterRevision, b.history)
}

// history reads a slice of the log for a watch replay (see fanout.History).
func (b *Backend) history(prefix string, after, upto int64, limit int) ([]storage.Event, int64, error) {
	var (
		out     []storage.Event
		scanned = after
	)
	err := b.db.View(func(tx *bbolt.Tx) error {
		compacted, err := readMeta(tx.Bucket(metaBucket), compactedKey)
		if err != nil {
			return err
		}
		if after < compacted {
			return fmt.Errorf("history after revision %d, compacted up to %d: %w", after, compacted, storage.ErrCompacted)
		}
		p := []byte(prefix)
		c := tx.Bucket(logBucket).Cursor()
		for k, v := c.Seek(revKey(after + 1)); k != nil && limit > 0; k, v = c.Next() {
			rev, err := decodeRev(k)
			if err != nil {
				return err
			}
			if rev > upto {
				break
			}
			scanned, limit = rev, limit-1
			h, err := parseEvent(v)
			if err != nil {
				return fmt.Errorf("log revision %d: %w", rev, err)
			}
			if !bytes.HasPrefix(h.key, p) {
				continue
			}
			ev, err := decodeEvent(rev, h)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		if limit > 0 {
			// The log ended before upto; nothing is left to scan.
			scanned = upto
		}
		return nil
	})
	if err != nil {
		return nil, 0, dbError(err)
	}
	return out, scanned, nil
}
