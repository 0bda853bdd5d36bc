package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// maxValueSize keeps a log record, which may hold a value and the value before it,
// within what bbolt stores.
const maxValueSize = (bbolt.MaxValueSize - bbolt.MaxKeySize - 64) / 2

var errEmptyKey = errors.New("empty key")

// Create stores a new key and returns its revision.
func (b *Backend) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if err := checkWrite(key, value); err != nil {
		return 0, err
	}
	res := b.submit(ctx, &request{op: opCreate, key: key, value: bytes.Clone(value)})
	return res.rev, res.err
}

// Update replaces the value of key if its ModRevision is expectedRevision (or if
// expectedRevision is 0) and returns the new revision.
func (b *Backend) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	if err := checkWrite(key, value); err != nil {
		return 0, err
	}
	res := b.submit(ctx, &request{op: opUpdate, key: key, value: bytes.Clone(value), revision: expectedRevision})
	return res.rev, res.err
}

// Delete removes key if its ModRevision is expectedRevision (or if expectedRevision
// is 0) and returns the revision of the delete.
func (b *Backend) Delete(ctx context.Context, key string, expectedRevision int64) (int64, error) {
	if err := checkWrite(key, nil); err != nil {
		return 0, err
	}
	res := b.submit(ctx, &request{op: opDelete, key: key, revision: expectedRevision})
	return res.rev, res.err
}

// Compact forgets the history of revisions up to and including revision. Compacting
// to a revision already compacted does nothing; compacting beyond the current revision
// fails. A large compaction runs in steps between other writes.
func (b *Backend) Compact(ctx context.Context, revision int64) error {
	for {
		res := b.submit(ctx, &request{op: opCompact, revision: revision})
		if res.err != nil || res.done {
			return res.err
		}
	}
}

func checkWrite(key string, value []byte) error {
	switch {
	case key == "":
		return errEmptyKey
	case len(key) > bbolt.MaxKeySize:
		return fmt.Errorf("key %.64q...: %d bytes, limit %d", key, len(key), bbolt.MaxKeySize)
	case len(value) > maxValueSize:
		return fmt.Errorf("key %q: value of %d bytes, limit %d", key, len(value), maxValueSize)
	}
	return nil
}
