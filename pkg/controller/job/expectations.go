package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// expectationsTTL bounds how long a Job waits for pod events it asked for: a
// watch that lost an event must not stall a Job forever.
const expectationsTTL = 5 * time.Minute

// expectations remembers, per Job key, what the controller asked of the API
// about its pods and has not yet seen come back through the pod informer:
//
//   - pods created and pods deleted: until they are seen, the Job creates and
//     deletes no more pods, so a slow cache never makes it run too many;
//   - tracking finalizers removed: until the pod is seen without it, the pod
//     counts as counted (its uid may already have left
//     status.uncountedTerminatedPods for the counters).
type expectations struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*expected
}

type expected struct {
	adds    int
	deletes sets.Set[string] // namespace/name
	since   time.Time
	// finalizers are the pods whose finalizer removal is not yet seen.
	finalizers sets.Set[types.UID]
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, m: map[string]*expected{}}
}

func (e *expectations) get(key string) *expected {
	x, ok := e.m[key]
	if !ok {
		x = &expected{deletes: sets.New[string](), finalizers: sets.New[types.UID]()}
		e.m[key] = x
	}
	return x
}

// satisfied reports whether the Job may create or delete pods: nothing it
// created or deleted is outstanding, or the record has expired.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok || (x.adds <= 0 && x.deletes.Len() == 0) {
		return true
	}
	return e.now().Sub(x.since) > expectationsTTL
}

// expectCreations is called before the creates are sent: the informer may
// report a new pod before Create returns.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds, x.since = n, e.now()
	x.deletes.Clear()
}

func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds--
	}
}

func (e *expectations) expectDeletions(key string, pods []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds, x.since = 0, e.now()
	x.deletes = sets.New(pods...)
}

// deletionObserved counts a pod once however many events announce its end
// (deletionTimestamp set, then the object gone).
func (e *expectations) deletionObserved(key, pod string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.deletes.Delete(pod)
	}
}

func (e *expectations) expectFinalizersRemoved(key string, uids []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(key).finalizers.Insert(uids...)
}

func (e *expectations) finalizerRemovalObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.finalizers.Delete(uid)
	}
}

// finalizersPending is a copy of the pods whose finalizer removal is not yet
// seen.
func (e *expectations) finalizersPending(key string) sets.Set[types.UID] {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		return x.finalizers.Clone()
	}
	return sets.New[types.UID]()
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
