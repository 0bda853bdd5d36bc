package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiffhq/skiff/pkg/storage"
)

// listRestarts bounds how often List starts again because etcd was compacted past
// the revision of its first page while it read the others.
const listRestarts = 3

// Get returns the current value of key (a linearizable read).
func (b *Backend) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	if err := b.begin(ctx); err != nil {
		return storage.KeyValue{}, err
	}
	if checkKey(key) != nil {
		return storage.KeyValue{}, fmt.Errorf("key %q: %w", key, storage.ErrNotFound)
	}
	resp, err := b.client.Get(ctx, b.etcdKey(key))
	if err != nil {
		return storage.KeyValue{}, b.fail(ctx, fmt.Sprintf("get key %q", key), err)
	}
	if len(resp.Kvs) == 0 {
		return storage.KeyValue{}, fmt.Errorf("key %q: %w", key, storage.ErrNotFound)
	}
	return b.keyValue(resp.Kvs[0]), nil
}

// List returns the keys under prefix in byte order and the revision they are read
// at: the current revision when the first page is read (linearizable), every later
// page read at that same revision.
func (b *Backend) List(ctx context.Context, prefix string) ([]storage.KeyValue, int64, error) {
	if err := b.begin(ctx); err != nil {
		return nil, 0, err
	}
	start, end, err := b.span(prefix)
	if err != nil {
		return nil, 0, err
	}
	for restarts := 0; ; restarts++ {
		kvs, rev, err := b.list(ctx, start, end)
		if err == nil {
			return kvs, rev, nil
		}
		if !errors.Is(err, rpctypes.ErrCompacted) || restarts == listRestarts {
			return nil, 0, b.fail(ctx, fmt.Sprintf("list prefix %q", prefix), err)
		}
		// A compaction overtook the pages: their revision is gone. Start again at the
		// current one.
	}
}

func (b *Backend) list(ctx context.Context, start, end string) ([]storage.KeyValue, int64, error) {
	var (
		out []storage.KeyValue
		rev int64
		key = start
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(b.opts.pageSize)}
		// Later pages stay linearizable reads too: the client may send them to
		// another member, which must first catch up to rev.
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := b.client.Get(ctx, key, opts...)
		if err != nil {
			return nil, 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
			out = make([]storage.KeyValue, 0, resp.Count)
		}
		for _, kv := range resp.Kvs {
			out = append(out, b.keyValue(kv))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// CurrentRevision returns etcd's current revision (a linearizable read). It is the
// revision of the last write to the etcd, which need not be one of this prefix.
func (b *Backend) CurrentRevision(ctx context.Context) (int64, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	rev, err := b.currentRevision(ctx)
	if err != nil {
		return 0, b.fail(ctx, "current revision", err)
	}
	return rev, nil
}

func (b *Backend) currentRevision(ctx context.Context) (int64, error) {
	// Any read carries the revision; this one counts a single key of the prefix, so
	// it needs no permission outside it.
	resp, err := b.client.Get(ctx, b.etcdKey("/"), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}
