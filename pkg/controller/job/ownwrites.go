package job

import (
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// ownWritesTTL bounds the wait for the job informer to deliver the
// controller's own status write.
const ownWritesTTL = 30 * time.Second

// ownWrites remembers the last status each Job was written with until the
// job informer has it. A sync that read the Job from before that write would
// count its pods against stale counters: pods whose finalizers it removed look
// counted while the counters do not have them yet, and it would start pods
// that the completions no longer need. Upstream guards the same way (its
// consistency store, StaleControllerConsistencyJob, on by default in v1.37).
type ownWrites struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]ownWrite // by Job key
}

type ownWrite struct {
	uid             types.UID
	resourceVersion string
	at              time.Time
}

func newOwnWrites(now func() time.Time) *ownWrites {
	return &ownWrites{now: now, m: map[string]ownWrite{}}
}

func (w *ownWrites) wrote(key string, uid types.UID, resourceVersion string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[key] = ownWrite{uid: uid, resourceVersion: resourceVersion, at: w.now()}
}

// pending reports how long a sync of key should wait for its own last write
// to reach the cache, whose copy of the Job is (uid, resourceVersion); zero
// when it has arrived (or never will).
func (w *ownWrites) pending(key string, uid types.UID, resourceVersion string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	ow, ok := w.m[key]
	if !ok {
		return 0
	}
	left := ownWritesTTL - w.now().Sub(ow.at)
	if ow.uid != uid || left <= 0 || !olderVersion(resourceVersion, ow.resourceVersion) {
		delete(w.m, key)
		return 0
	}
	return left
}

func (w *ownWrites) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
}

// olderVersion reports whether cached is a version from before written.
// Resource versions are opaque to clients, but Skiff's (its storage's
// revision) and etcd's are one increasing integer for the whole store; when
// either is not a number, only equality is known.
func olderVersion(cached, written string) bool {
	c, err1 := strconv.ParseUint(cached, 10, 64)
	w, err2 := strconv.ParseUint(written, 10, 64)
	if err1 != nil || err2 != nil {
		return cached != written
	}
	return c < w
}
