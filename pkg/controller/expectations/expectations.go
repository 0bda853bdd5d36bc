// Package expectations remembers, per owner key, the creations and deletions
// of objects a control loop has asked of the API server and not yet seen come
// back through its informer. While any are outstanding the loop does not
// create or delete again, so a burst of events or a slow cache never makes it
// create or delete too many. It must not talk to the API nor read caches: the
// loop reports what it asked and what it saw.
package expectations

import (
	"sync"
	"time"
)

// TTL bounds how long a loop waits for the events it asked for: a watch that
// lost an event must not stall an owner forever.
const TTL = 5 * time.Minute

// Expectations is safe for concurrent use.
type Expectations struct {
	mu  sync.Mutex
	m   map[string]*record
	now func() time.Time
}

type record struct {
	adds    int
	deletes map[string]struct{} // namespace/name of objects asked to be deleted
	since   time.Time
}

// New returns empty Expectations that read the time from now.
func New(now func() time.Time) *Expectations {
	return &Expectations{m: map[string]*record{}, now: now}
}

// Satisfied reports whether the owner of key may create or delete: nothing is
// outstanding, the record has expired, or there never was one (a fresh start).
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok || (x.adds <= 0 && len(x.deletes) == 0) {
		return true
	}
	return e.now().Sub(x.since) > TTL
}

// Expect replaces what is outstanding for key with adds creations and the
// deletions of deletes (namespace/name). It must be called before any of them
// is sent, as the informer may report one before the call returns.
func (e *Expectations) Expect(key string, adds int, deletes []string) {
	set := make(map[string]struct{}, len(deletes))
	for _, d := range deletes {
		set[d] = struct{}{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &record{adds: adds, deletes: set, since: e.now()}
}

// ExpectCreations is Expect with n creations and no deletions.
func (e *Expectations) ExpectCreations(key string, n int) { e.Expect(key, n, nil) }

// ExpectDeletions is Expect with the deletions of objs and no creations.
func (e *Expectations) ExpectDeletions(key string, objs []string) { e.Expect(key, 0, objs) }

// CreationObserved counts one creation seen.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds--
	}
}

// DeletionObserved counts the deletion of obj (namespace/name) once, however
// many events announce its end (deletionTimestamp set, then the object gone).
func (e *Expectations) DeletionObserved(key, obj string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, obj)
	}
}

// Forget drops what is outstanding for key (its owner is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
