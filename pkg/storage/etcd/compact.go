package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Compact compacts etcd's history up to revision. The history is etcd's, shared by
// every prefix. Compacting to a revision already compacted does nothing; compacting
// beyond the current revision fails. It returns once the compaction is committed;
// etcd frees the space in the background.
func (b *Backend) Compact(ctx context.Context, revision int64) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	if revision <= 0 {
		return nil
	}
	if _, err := b.client.Compact(ctx, revision); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return b.fail(ctx, fmt.Sprintf("compact to revision %d", revision), err)
	}
	b.sawCompacted(revision)
	return nil
}

// CompactedRevision returns the revision etcd's history was last compacted up to,
// by this backend or any other client, found by reading: etcd has no call that
// says. A read at a revision fails exactly when the revision is older than the
// compacted one, so one read confirms the revision last seen, and a binary search
// finds a newer one. etcd's revision 1 holds no write: a compaction to it forgets
// nothing, and is reported as 0 unless this backend made it.
func (b *Backend) CompactedRevision(ctx context.Context) (int64, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	rev, err := b.compactedRevision(ctx)
	if err != nil {
		return 0, b.fail(ctx, "compacted revision", err)
	}
	return rev, nil
}

func (b *Backend) compactedRevision(ctx context.Context) (int64, error) {
	known := b.compacted.Load()
	lo := max(known, 1)
	compacted, err := b.compactedAt(ctx, lo)
	if err != nil || !compacted {
		return known, err
	}
	// lo is compacted and the current revision is not: find the oldest readable one.
	hi, err := b.currentRevision(ctx)
	if err != nil {
		return 0, err
	}
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		compacted, err := b.compactedAt(ctx, mid)
		if err != nil {
			return 0, err
		}
		if compacted {
			lo = mid
		} else {
			hi = mid
		}
	}
	b.sawCompacted(hi)
	return b.compacted.Load(), nil
}

// compactedAt says whether etcd's history at revision rev is gone.
func (b *Backend) compactedAt(ctx context.Context, rev int64) (bool, error) {
	_, err := b.client.Get(ctx, b.etcdKey("/"), clientv3.WithRev(rev), clientv3.WithCountOnly())
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return true, nil
	case errors.Is(err, rpctypes.ErrFutureRev):
		return false, nil // nothing after rev can be compacted yet
	}
	return false, err
}

// sawCompacted records that etcd's history is compacted at least up to rev.
func (b *Backend) sawCompacted(rev int64) {
	for {
		cur := b.compacted.Load()
		if rev <= cur || b.compacted.CompareAndSwap(cur, rev) {
			return
		}
	}
}
