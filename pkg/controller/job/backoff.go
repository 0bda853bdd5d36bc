package job

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// backoffRecord is what the pod failure back-off of a Job depends on: how
// many of its pods failed since the last one succeeded, and when the last
// of them did.
type backoffRecord struct {
	failures    int
	lastFailure time.Time
}

// delay is how long from now a replacement pod still has to wait: 10 s after
// the first failure, doubling with each further one, at most
// maxPodFailureBackoff.
func (r backoffRecord) delay(now time.Time) time.Duration {
	if r.failures == 0 {
		return 0
	}
	d := podFailureBackoff
	for i := 1; i < r.failures && d < maxPodFailureBackoff; i++ {
		d *= 2
	}
	d = min(d, maxPodFailureBackoff)
	return max(0, d-now.Sub(r.lastFailure))
}

// backoffStore keeps each Job's back-off record between syncs (the pods that
// made it lose their finalizers and leave the count).
type backoffStore struct {
	mu sync.Mutex
	m  map[string]backoffRecord // by Job key
}

func newBackoffStore() *backoffStore { return &backoffStore{m: map[string]backoffRecord{}} }

// next is key's record once the newly finished pods are taken into account:
// a success resets the count, but failures after the last success still
// count.
func (s *backoffStore) next(key string, succeeded, failed []*corev1.Pod) backoffRecord {
	s.mu.Lock()
	r := s.m[key]
	s.mu.Unlock()
	if len(failed) == 0 && len(succeeded) == 0 {
		return r
	}
	var lastSuccess time.Time
	if len(succeeded) > 0 {
		r = backoffRecord{}
		for _, p := range succeeded {
			if t := finishedAt(p); t.After(lastSuccess) {
				lastSuccess = t
			}
		}
	}
	for _, p := range failed {
		t := finishedAt(p)
		if !lastSuccess.IsZero() && !t.After(lastSuccess) {
			continue
		}
		r.failures++
		if t.After(r.lastFailure) {
			r.lastFailure = t
		}
	}
	return r
}

func (s *backoffStore) set(key string, r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.failures == 0 {
		delete(s.m, key)
		return
	}
	s.m[key] = r
}

func (s *backoffStore) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// finishedAt is when a pod finished, as upstream reads it: its containers'
// last finish, else when it stopped being ready, else when it was deleted
// (less the grace period), else its creation.
func finishedAt(p *corev1.Pod) time.Time {
	var last time.Time
	done := len(p.Status.ContainerStatuses) > 0
	for _, cs := range p.Status.ContainerStatuses {
		t := cs.State.Terminated
		if t == nil || t.FinishedAt.IsZero() {
			done = false
			break
		}
		if t.FinishedAt.After(last) {
			last = t.FinishedAt.Time
		}
	}
	if done {
		return last
	}
	if c := podReadyCondition(p); c != nil && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
		return c.LastTransitionTime.Time
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Add(-time.Duration(ptr.Deref(p.DeletionGracePeriodSeconds, 0)) * time.Second)
	}
	return p.CreationTimestamp.Time
}
