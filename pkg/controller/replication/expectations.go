package replication

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a sync waits for informer events it asked for;
// a watch that lost an event must not stall a set forever.
const expectationsTTL = 5 * time.Minute

// expectations remembers, per set key, the pod creations and deletions the
// controller has issued and not yet seen come back through the pod informer.
// While any are outstanding the set is not resized again, so a burst of events
// (or a slow cache) never makes it create or delete too many pods.
type expectations struct {
	mu  sync.Mutex
	m   map[string]*expectation
	now func() time.Time
}

type expectation struct {
	adds    int64
	deletes map[string]struct{} // namespace/name of pods asked to be deleted
	since   time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{m: map[string]*expectation{}, now: now}
}

// satisfied reports whether a set may be resized: nothing is outstanding, the
// record has expired, or there never was one (a fresh start).
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	return e.now().Sub(x.since) > expectationsTTL
}

func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: int64(n), since: e.now()}
}

func (e *expectations) expectDeletions(key string, pods []string) {
	set := make(map[string]struct{}, len(pods))
	for _, p := range pods {
		set[p] = struct{}{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{deletes: set, since: e.now()}
}

func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds--
	}
}

// deletionObserved counts a pod once however many events announce its end
// (deletionTimestamp set, then removed).
func (e *expectations) deletionObserved(key, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, pod)
	}
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
