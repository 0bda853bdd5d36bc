package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiffhq/skiff/pkg/controller/expectations"
)

// jobExpectations remembers, per Job key, what the controller asked of the
// API about its pods and has not yet seen come back through the pod informer:
//
//   - pods created and pods deleted (the embedded Expectations): until they
//     are seen, the Job creates and deletes no more pods, so a slow cache
//     never makes it run too many;
//   - tracking finalizers removed: until the pod is seen without it, the pod
//     counts as counted (its uid may already have left
//     status.uncountedTerminatedPods for the counters).
type jobExpectations struct {
	*expectations.Expectations

	mu sync.Mutex
	// finalizers are, per Job key, the pods whose finalizer removal is not yet seen.
	finalizers map[string]sets.Set[types.UID]
}

func newJobExpectations(now func() time.Time) *jobExpectations {
	return &jobExpectations{Expectations: expectations.New(now), finalizers: map[string]sets.Set[types.UID]{}}
}

func (e *jobExpectations) expectFinalizersRemoved(key string, uids []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.finalizers[key]
	if !ok {
		s = sets.New[types.UID]()
		e.finalizers[key] = s
	}
	s.Insert(uids...)
}

func (e *jobExpectations) finalizerRemovalObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.finalizers[key]; ok {
		s.Delete(uid)
	}
}

// finalizersPending is a copy of the pods whose finalizer removal is not yet
// seen.
func (e *jobExpectations) finalizersPending(key string) sets.Set[types.UID] {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.finalizers[key]; ok {
		return s.Clone()
	}
	return sets.New[types.UID]()
}

// Forget drops everything outstanding for key: the pods and the finalizers.
func (e *jobExpectations) Forget(key string) {
	e.Expectations.Forget(key)
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.finalizers, key)
}
