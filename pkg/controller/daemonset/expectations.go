package daemonset

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a sync waits for informer events it asked
// for: a watch that lost an event must not stall a DaemonSet forever.
const expectationsTTL = 5 * time.Minute

// expectations remembers, per DaemonSet key, the pod creations and deletions
// the controller has issued and not yet seen come back through the pod
// informer. While any are outstanding the DaemonSet's pods are not managed
// again (only its status is written), so a slow cache never makes it create a
// second pod for a node or delete one twice.
type expectations struct {
	mu  sync.Mutex
	m   map[string]*expectation
	now func() time.Time
}

type expectation struct {
	adds    int
	deletes map[string]struct{} // namespace/name of pods asked to be deleted
	since   time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{m: map[string]*expectation{}, now: now}
}

// satisfied reports whether a DaemonSet's pods may be managed: nothing is
// outstanding, the record has expired, or there never was one.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true
	}
	return e.now().Sub(x.since) > expectationsTTL
}

// expect records the creations and deletions one sync is about to issue; it
// must be called before any of them, as the informer may report one first.
func (e *expectations) expect(key string, adds int, deletes []string) {
	set := make(map[string]struct{}, len(deletes))
	for _, p := range deletes {
		set[p] = struct{}{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: adds, deletes: set, since: e.now()}
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
