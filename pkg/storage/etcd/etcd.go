// Package etcd is a storage.Backend on an etcd v3 cluster, for Skiff clusters that
// keep their state in an etcd they run (or share) instead of the embedded bolt file.
//
// Every Skiff key K is stored as Prefix+K, so several clusters can share one etcd;
// Skiff keys start with "/", which keeps a backend out of a neighbour whose prefix
// begins like its own (/skiff and /skiff2). Revisions are etcd's own: global to the
// etcd, so increasing but not consecutive for one prefix when the etcd is shared.
// Reads are linearizable; Update and Delete are compare-and-swap transactions on the
// key's ModRevision.
//
// It must not know about Kubernetes objects, must not read or write a key outside its
// prefix, and must never let one watch hold up others: each watch has a gRPC stream
// of its own (etcd drops a progress request for a whole stream while any watch
// on it is behind), reads it at once into a bounded buffer and is dropped (its
// channel closed) when that buffer is full. It keeps nothing of its own in etcd: the
// compacted revision is read from etcd, not stored beside the data.
package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/skiffhq/skiff/pkg/storage"
)

// DefaultPrefix is where Open keeps Skiff's keys when Config.Prefix is empty.
const DefaultPrefix = "/skiff"

// Backend is a storage.Backend on etcd. Events sent to a watcher share their values
// and must not be modified.
type Backend struct {
	client *clientv3.Client
	prefix string // without a trailing "/"; every key is prefix + "/..."
	opts   options

	// compacted is the highest revision this backend has seen etcd compacted to;
	// etcd's may be higher when another client compacted.
	compacted atomic.Int64

	mu       sync.Mutex // serializes Close with starting watches; guards watches
	closed   atomic.Bool
	closing  context.Context // canceled by Close: watches stop
	stop     context.CancelFunc
	watchers sync.WaitGroup
	watches  map[*watch]struct{} // the open ones, for RequestProgress
}

var _ storage.Backend = (*Backend)(nil)

// Config says how Open reaches etcd.
type Config struct {
	// Endpoints are the etcd client URLs, such as "https://10.0.0.1:2379".
	Endpoints []string
	// TLS secures the connection; nil means plaintext.
	TLS *tls.Config
	// Prefix is prepended to every key (default DefaultPrefix). Clusters sharing an
	// etcd need prefixes that do not nest: /skiff and /skiff2 are apart, /skiff and
	// /skiff/a are not.
	Prefix string
	// DialTimeout bounds how long Open waits for etcd to answer; zero leaves it to ctx.
	DialTimeout time.Duration
}

// Open dials etcd and returns a backend that closes its client on Close. It fails if
// etcd does not answer a read within DialTimeout (or before ctx ends).
func Open(ctx context.Context, cfg Config, opts ...Option) (*Backend, error) {
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	b, err := New(client, prefix, append(slices.Clip(opts), WithCloseClient())...)
	if err != nil {
		client.Close()
		return nil, err
	}
	if cfg.DialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.DialTimeout)
		defer cancel()
	}
	if _, err := b.CurrentRevision(ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	return b, nil
}

// New returns a backend keeping its keys under prefix in the etcd that client talks
// to. The caller keeps ownership of client (it must outlive the backend) unless
// WithCloseClient is given. A trailing "/" of prefix is ignored; an empty prefix
// stores Skiff's keys as they are.
func New(client *clientv3.Client, prefix string, opts ...Option) (*Backend, error) {
	if client == nil {
		return nil, errors.New("etcd storage: nil client")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	closing, stop := context.WithCancel(context.Background())
	return &Backend{
		client:  client,
		prefix:  strings.TrimRight(prefix, "/"),
		opts:    o,
		closing: closing,
		stop:    stop,
		watches: make(map[*watch]struct{}),
	}, nil
}

// Close closes every watch channel, waits for the watches to stop and, if the
// backend owns it, closes the client. Calls after Close fail with storage.ErrClosed.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return storage.ErrClosed
	}
	b.closed.Store(true)
	b.stop()
	b.mu.Unlock()
	b.watchers.Wait()
	if b.opts.closeClient {
		return b.client.Close()
	}
	return nil
}

// begin checks what every call checks first.
func (b *Backend) begin(ctx context.Context) error {
	if b.closed.Load() {
		return storage.ErrClosed
	}
	return ctx.Err()
}

// fail turns an error from etcd into the one the caller sees: storage.ErrClosed if
// the backend closed under the call, the context's error if it ended, else err
// wrapped with what failed.
func (b *Backend) fail(ctx context.Context, what string, err error) error {
	if b.closed.Load() {
		return storage.ErrClosed
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: %w", what, err)
}

// etcdKey is where a Skiff key is stored. Keys that do not start with "/" are not
// Skiff's: checkKey refuses them before they get here.
func (b *Backend) etcdKey(key string) string { return b.prefix + key }

func checkKey(key string) error {
	if !strings.HasPrefix(key, "/") {
		return fmt.Errorf("key %q: does not start with \"/\"", key)
	}
	return nil
}

// span is the etcd range [start, end) of the keys under a Skiff prefix. The empty
// prefix is every key of this backend: those under b.prefix+"/", and not a
// neighbour's that merely starts with b.prefix.
func (b *Backend) span(prefix string) (start, end string, err error) {
	if prefix == "" {
		prefix = "/"
	}
	if !strings.HasPrefix(prefix, "/") {
		return "", "", fmt.Errorf("prefix %q: keys start with \"/\"", prefix)
	}
	start = b.etcdKey(prefix)
	return start, clientv3.GetPrefixRangeEnd(start), nil
}

// keyValue converts a stored key/value; its key has the prefix stripped.
func (b *Backend) keyValue(kv *mvccpb.KeyValue) storage.KeyValue {
	value := kv.Value
	if value == nil {
		value = []byte{} // an empty value is a value, as in the other backends
	}
	return storage.KeyValue{
		Key:            string(kv.Key[len(b.prefix):]),
		Value:          value,
		CreateRevision: kv.CreateRevision,
		ModRevision:    kv.ModRevision,
	}
}
