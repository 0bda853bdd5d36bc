package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiffhq/skiff/pkg/storage"
)

// A read that asks for the latest state (no resourceVersion) is served from
// the cache, which one server's writes reach before they are answered. When
// other servers write to the same storage, the cache may not hold their
// latest writes yet, and a server cut off from the datastore's quorum holds
// stale state: such a read first asks storage (a quorum read, in etcd) for its
// current revision and waits for the cache to reach it, as upstream's
// consistent reads from its watch cache do. A server that cannot ask refuses
// the read rather than answer it with stale data.

// consistentReadTimeout bounds how long a read waits on the datastore.
const consistentReadTimeout = 5 * time.Second

// consistentRead returns once the cache holds every write storage had
// committed when it was called.
func (s *Server) consistentRead(ctx context.Context) error {
	if !s.cfg.SharedStorage {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, consistentReadTimeout)
	defer cancel()
	rev, err := s.barrier.current(ctx, s.cfg.Storage)
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the datastore does not answer (a read of the latest state needs its quorum): %v", err))
	}
	if s.cache.currentRev() >= rev {
		return nil
	}
	p, ok := s.cfg.Storage.(storage.ProgressRequester)
	if !ok {
		return cacheBehind(s.cache.waitFor(ctx, rev), rev)
	}
	// Another tenant's write may be the latest, which no event of ours
	// brings: the cache's watch is asked how far it has got, again while
	// the answer does not come (a watch being made again misses a request).
	for {
		_ = p.RequestProgress(ctx)
		wctx, cancel := context.WithTimeout(ctx, progressRetry)
		err := s.cache.waitFor(wctx, rev)
		cancel()
		if err == nil || errors.Is(err, errCacheStopped) || ctx.Err() != nil {
			return cacheBehind(err, rev)
		}
	}
}

// cacheBehind is the answer to a consistent read whose wait for the cache to
// reach rev ended with err: none when it did; a stopped cache (the server is
// shutting down) follows the datastore no more, and what it holds is not the
// latest state.
func cacheBehind(err error, rev int64) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errCacheStopped):
		return apierrors.NewServiceUnavailable("the server is shutting down: it cannot read the latest state")
	}
	return apierrors.NewTimeoutError(fmt.Sprintf("the cache did not reach the datastore's revision %d: %v", rev, err), 1)
}

// progressRetry is how long a consistent read waits for the progress it asked
// the cache's watch for before it asks again.
const progressRetry = 100 * time.Millisecond

// revisionBarrier shares storage's current revision among concurrent reads:
// a read may use an answer to a request sent after it arrived (which sees
// every write it must), so at most one request is in flight and every read
// that arrives meanwhile waits for the next one, which they all share.
type revisionBarrier struct {
	mu       sync.Mutex
	inflight *revisionCall // sent; reads that arrived before it was sent use it
	next     *revisionCall // to send once inflight answers
}

type revisionCall struct {
	done chan struct{}
	rev  int64
	err  error
}

func (b *revisionBarrier) current(ctx context.Context, store storage.Backend) (int64, error) {
	b.mu.Lock()
	var call *revisionCall
	switch {
	case b.inflight == nil:
		call = &revisionCall{done: make(chan struct{})}
		b.inflight = call
		go b.send(call, store)
	case b.next == nil:
		call = &revisionCall{done: make(chan struct{})}
		b.next = call
	default:
		call = b.next
	}
	b.mu.Unlock()
	select {
	case <-call.done:
		return call.rev, call.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// send asks storage, answers call and sends the next call, if any.
func (b *revisionBarrier) send(call *revisionCall, store storage.Backend) {
	for call != nil {
		ctx, cancel := context.WithTimeout(context.Background(), consistentReadTimeout)
		call.rev, call.err = store.CurrentRevision(ctx)
		cancel()
		close(call.done)
		b.mu.Lock()
		call, b.next = b.next, nil
		b.inflight = call
		b.mu.Unlock()
	}
}
