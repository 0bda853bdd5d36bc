package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiffhq/skiff/pkg/storage"
)

// Writes that allocate from a pool (ClusterIPs, NodePorts) read what is taken
// from the cache and must not run two at a time, or two would take the same
// value. In one server a mutex orders them; servers sharing a datastore
// also hold allocationLockKey in storage, and each reads its cache only once it
// holds all that storage held when it took the lock, so every allocation
// sees those made before it on any server. The lock is outside /registry/,
// which the API serves.
const allocationLockKey = "/locks/allocation"

// allocationLockTTL is how long a lock must stay as it is, as this server
// sees it, before this server takes it over (its holder died). It is timed
// on this server's clock from when it first saw the lock at its revision, as
// client-go's leader election times a lease, so that clocks that disagree
// between hosts do not matter; and it is well above the longest a live holder
// keeps the lock: its catch-up (allocationCatchUp) and one write.
var allocationLockTTL = 15 * time.Second

// allocationCatchUp bounds how long a holder waits for its cache to catch up
// with storage under the lock.
const allocationCatchUp = 5 * time.Second

// seenLock is the lock as this server last saw it held by another.
type seenLock struct {
	rev   int64
	since time.Time
}

// lockAllocation takes the allocation lock and returns the function that
// releases it.
func (s *Server) lockAllocation(ctx context.Context) (func(), error) {
	s.allocMu.Lock()
	if !s.cfg.SharedStorage {
		return s.allocMu.Unlock, nil
	}
	rev, err := s.takeAllocationLock(ctx)
	if err != nil {
		s.allocMu.Unlock()
		return nil, err
	}
	unlock := func() {
		// Released even when the request's context has ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := s.cfg.Storage.Delete(rctx, allocationLockKey, rev); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.Warn("releasing the allocation lock (it expires on its own)", "err", err)
		}
		s.allocMu.Unlock()
	}
	// Catch up with storage up to the lock's own write (the cache follows
	// every key): every allocation made under the lock before is in.
	wctx, cancel := context.WithTimeout(ctx, allocationCatchUp)
	defer cancel()
	if err := s.cache.waitFor(wctx, rev); err != nil {
		unlock()
		return nil, apierrors.NewInternalError(fmt.Errorf("reading the allocations of other servers: %w", err))
	}
	return unlock, nil
}

// takeAllocationLock stores the lock as this server's, taking it over when
// it has not changed for allocationLockTTL, and returns the revision that
// holds it. s.allocMu is held.
func (s *Server) takeAllocationLock(ctx context.Context) (int64, error) {
	pause := time.Millisecond
	for {
		rev, err := s.cfg.Storage.Create(ctx, allocationLockKey, []byte(s.id))
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, storage.ErrKeyExists) {
			return 0, apierrors.NewInternalError(fmt.Errorf("taking the allocation lock: %w", err))
		}
		if kv, err := s.cfg.Storage.Get(ctx, allocationLockKey); err == nil {
			switch {
			case kv.ModRevision != s.lockSeen.rev:
				s.lockSeen = seenLock{rev: kv.ModRevision, since: time.Now()}
			case time.Since(s.lockSeen.since) >= allocationLockTTL:
				if rev, err := s.cfg.Storage.Update(ctx, allocationLockKey, []byte(s.id), kv.ModRevision); err == nil {
					s.log.Warn("took over the allocation lock of a server that held it too long", "holder", string(kv.Value))
					return rev, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, apierrors.NewTimeoutError(fmt.Sprintf("waiting for the allocation lock: %v", ctx.Err()), 1)
		case <-time.After(pause):
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// newServerID names this server process in the locks it holds.
func newServerID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
