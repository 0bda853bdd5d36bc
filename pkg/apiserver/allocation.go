package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// allocationLockTTL is how long a lock whose server died stays taken.
// An allocation holds it for one write.
const allocationLockTTL = 10 * time.Second

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
	if err := s.cache.waitFor(ctx, rev); err != nil {
		unlock()
		return nil, apierrors.NewInternalError(fmt.Errorf("reading the allocations of other servers: %w", err))
	}
	return unlock, nil
}

// takeAllocationLock stores the lock as this server's, taking it over when its
// holder let it expire, and returns the revision that holds it.
func (s *Server) takeAllocationLock(ctx context.Context) (int64, error) {
	pause := time.Millisecond
	for {
		value := []byte(s.id + " " + strconv.FormatInt(time.Now().Add(allocationLockTTL).UnixMilli(), 10))
		rev, err := s.cfg.Storage.Create(ctx, allocationLockKey, value)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, storage.ErrKeyExists) {
			return 0, apierrors.NewInternalError(fmt.Errorf("taking the allocation lock: %w", err))
		}
		if kv, err := s.cfg.Storage.Get(ctx, allocationLockKey); err == nil && lockExpired(kv.Value) {
			if rev, err := s.cfg.Storage.Update(ctx, allocationLockKey, value, kv.ModRevision); err == nil {
				return rev, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// lockExpired reads a lock's "holder expiry-ms" value.
func lockExpired(value []byte) bool {
	_, at, ok := strings.Cut(string(value), " ")
	ms, err := strconv.ParseInt(at, 10, 64)
	return !ok || err != nil || time.Now().UnixMilli() > ms
}

// newServerID names this server process in the locks it holds.
func newServerID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
