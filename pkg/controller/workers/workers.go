// Package workers runs a control loop's workqueue: a pool of goroutines that take
// keys, sync them, and retry failures with the queue's rate limiter. It must not
// know what a key means or talk to the API.
package workers

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

// retryAfter asks Run to look at a key again after a fixed delay without
// counting a failure (the expected event may simply not have arrived yet).
type retryAfter struct {
	d     time.Duration
	cause error
}

func (r *retryAfter) Error() string { return r.cause.Error() }
func (r *retryAfter) Unwrap() error { return r.cause }

// After wraps cause so that Run re-queues the key after d and forgets its
// failures instead of backing off.
func After(d time.Duration, cause error) error { return &retryAfter{d: d, cause: cause} }

// Run takes keys from q with n goroutines, calling syncKey for each, until ctx ends;
// then it shuts q down and waits for the goroutines. A key whose syncKey fails is
// re-queued with rate limiting after onError (if set) has seen the error; onError
// is not called once ctx has ended.
func Run(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], n int,
	syncKey func(context.Context, string) error, onError func(key string, err error)) {
	if n < 1 {
		n = 1
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for next(ctx, q, syncKey, onError) {
			}
		})
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

func next(ctx context.Context, q workqueue.TypedRateLimitingInterface[string],
	syncKey func(context.Context, string) error, onError func(string, error)) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	err := syncKey(ctx, key)
	var ra *retryAfter
	switch {
	case err == nil:
		q.Forget(key)
	case errors.As(err, &ra):
		q.Forget(key)
		q.AddAfter(key, ra.d)
	default:
		if onError != nil && ctx.Err() == nil {
			onError(key, err)
		}
		q.AddRateLimited(key)
	}
	return true
}
