package etcd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiffhq/skiff/pkg/storage"
)

// Create stores a new key and returns its revision: one transaction that puts the
// key only if it has never been created (or was deleted since).
func (b *Backend) Create(ctx context.Context, key string, value []byte) (int64, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	k := b.etcdKey(key)
	resp, err := b.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(value))).
		Commit()
	if err != nil {
		return 0, b.fail(ctx, fmt.Sprintf("create key %q", key), err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("key %q: %w", key, storage.ErrKeyExists)
	}
	return resp.Header.Revision, nil
}

// Update replaces the value of key if its ModRevision is expectedRevision (or, when
// expectedRevision is 0, if it exists) and returns the new revision.
func (b *Backend) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	k := b.etcdKey(key)
	return b.swap(ctx, "update", key, expectedRevision, clientv3.OpPut(k, string(value)))
}

// Delete removes key if its ModRevision is expectedRevision (or, when
// expectedRevision is 0, if it exists) and returns the revision of the delete.
func (b *Backend) Delete(ctx context.Context, key string, expectedRevision int64) (int64, error) {
	if err := b.begin(ctx); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	return b.swap(ctx, "delete", key, expectedRevision, clientv3.OpDelete(b.etcdKey(key)))
}

// swap applies op to an existing key in one transaction, if the key's ModRevision is
// expected (any, when expected is 0). When it does not apply, the same transaction
// says whether the key was there, to tell a conflict from a missing key.
func (b *Backend) swap(ctx context.Context, verb, key string, expected int64, op clientv3.Op) (int64, error) {
	k := b.etcdKey(key)
	cmp := clientv3.Compare(clientv3.ModRevision(k), "=", expected)
	if expected == 0 {
		cmp = clientv3.Compare(clientv3.CreateRevision(k), ">", 0)
	}
	resp, err := b.client.Txn(ctx).
		If(cmp).
		Then(op).
		Else(clientv3.OpGet(k, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return 0, b.fail(ctx, fmt.Sprintf("%s key %q", verb, key), err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	if r := resp.Responses[0].GetResponseRange(); r == nil || r.Count == 0 {
		return 0, fmt.Errorf("key %q: %w", key, storage.ErrNotFound)
	}
	return 0, fmt.Errorf("key %q, expected revision %d: %w", key, expected, storage.ErrConflict)
}
