package statefulset

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// writeTTL bounds how long a sync waits for the cache to show one of its own
// pod writes; past it (the event was lost, or someone undid the write at once)
// the controller trusts the cache again.
const writeTTL = 30 * time.Second

// podWrites remembers the pod creates and deletes a sync made, so that the
// next sync of the same StatefulSet waits until the pod cache shows them
// rather than acting on a stale view (creating a pod twice, or counting a
// deleted one as still there). It plays the part of upstream's expectations,
// checked against the cache's state instead of by counting events.
type podWrites struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]map[string]podWrite // StatefulSet key -> pod name
}

type podWrite struct {
	deleteUID types.UID // the pod deleted; "" for a create
	at        time.Time
}

func newPodWrites(now func() time.Time) *podWrites {
	return &podWrites{now: now, m: map[string]map[string]podWrite{}}
}

func (w *podWrites) record(setKey, pod string, deleteUID types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m[setKey] == nil {
		w.m[setKey] = map[string]podWrite{}
	}
	w.m[setKey][pod] = podWrite{deleteUID: deleteUID, at: w.now()}
}

func (w *podWrites) created(setKey, pod string)                { w.record(setKey, pod, "") }
func (w *podWrites) deleted(setKey, pod string, uid types.UID) { w.record(setKey, pod, uid) }

func (w *podWrites) forget(setKey string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, setKey)
}

// pending reports whether some write of the set's is not yet in the cache;
// get reads a pod from the cache by name (nil when absent).
func (w *podWrites) pending(setKey string, get func(name string) *corev1.Pod) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for name, wr := range w.m[setKey] {
		pod := get(name)
		seen := pod != nil
		if wr.deleteUID != "" {
			seen = pod == nil || pod.UID != wr.deleteUID || pod.DeletionTimestamp != nil
		}
		if seen || now.Sub(wr.at) > writeTTL {
			delete(w.m[setKey], name)
		}
	}
	if len(w.m[setKey]) == 0 {
		delete(w.m, setKey)
		return false
	}
	return true
}
