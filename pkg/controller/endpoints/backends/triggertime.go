package backends

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TriggerTimes computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation: the earliest time of the changes (a pod's Ready transition, the
// Service's creation) that this sync is the first to see. Consumers measure
// how long a change takes to reach the data plane from it.
type TriggerTimes struct {
	mu       sync.Mutex
	services map[string]*triggerState
}

type triggerState struct {
	pods    map[string]time.Time
	service time.Time
}

// NewTriggerTimes returns an empty tracker.
func NewTriggerTimes() *TriggerTimes {
	return &TriggerTimes{services: map[string]*triggerState{}}
}

// Compute records what this sync saw for the Service and returns the trigger
// time: the Service's creation on the first sync, then the earliest pod
// change not seen before, or zero when nothing new triggered the sync. Syncs
// of one key never run concurrently (the workqueue guarantees it).
func (t *TriggerTimes) Compute(key string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	prev, known := t.services[key]
	t.mu.Unlock()

	next := &triggerState{pods: make(map[string]time.Time, len(pods)), service: svc.CreationTimestamp.Time}
	var earliest time.Time
	consider := func(ts time.Time) {
		if earliest.IsZero() || ts.Before(earliest) {
			earliest = ts
		}
	}
	for _, pod := range pods {
		c := readyCondition(pod)
		if c == nil || c.LastTransitionTime.IsZero() {
			continue
		}
		ts := c.LastTransitionTime.Time
		next.pods[pod.Name] = ts
		if known && ts.After(prev.pods[pod.Name]) {
			consider(ts)
		}
	}
	if known && next.service.After(prev.service) {
		consider(next.service)
	}

	t.mu.Lock()
	t.services[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// Forget drops a deleted Service's state.
func (t *TriggerTimes) Forget(key string) {
	t.mu.Lock()
	delete(t.services, key)
	t.mu.Unlock()
}

// FormatTriggerTime is the annotation's value for a trigger time.
func FormatTriggerTime(ts time.Time) string { return ts.UTC().Format(time.RFC3339Nano) }
