package scheduler

import (
	"container/heap"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// queuedPod is a pending pod and its scheduling history.
type queuedPod struct {
	info      *podInfo
	added     time.Time // when it last entered the active queue; orders equal priorities
	attempts  int
	lastTry   time.Time // when its last attempt failed
	backoffAt time.Time // end of its back-off

	where int // which of the queue's parts holds it
	index int // position in the heap it is in
}

const (
	nowhere = iota
	inActive
	inBackoff
	inUnschedulable
)

// queue is upstream's scheduling queue: an active heap (highest priority, then
// oldest, first), a back-off heap of pods that failed recently, and a set of
// unschedulable pods that wait for the cluster to change. A cluster change moves
// every unschedulable pod back to the active heap, or to back-off if its back-off
// has not run out. Pods that fit nowhere are also retried after maxUnschedulable,
// in case a change was missed.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	closed bool
	now    func() time.Time

	initialBackoff, maxBackoff time.Duration
	maxUnschedulable           time.Duration

	active        podHeap
	backoff       podHeap
	unschedulable map[types.UID]*queuedPod
	all           map[types.UID]*queuedPod // every pod in any part
	// changed holds pods in flight whose spec changed during their attempt: if
	// the attempt fails they are retried after back-off rather than waiting.
	changed map[types.UID]struct{}

	// cycle counts pops; moveCycle is the cycle during which the cluster last
	// changed. A pod whose attempt began before such a change goes to back-off
	// instead of waiting for yet another change it may already have missed.
	cycle     int64
	moveCycle int64
}

func newQueue(initialBackoff, maxBackoff time.Duration) *queue {
	q := &queue{
		now:              time.Now,
		initialBackoff:   initialBackoff,
		maxBackoff:       maxBackoff,
		maxUnschedulable: 5 * time.Minute,
		active:           podHeap{less: activeLess},
		backoff:          podHeap{less: backoffLess},
		unschedulable:    map[types.UID]*queuedPod{},
		all:              map[types.UID]*queuedPod{},
		changed:          map[types.UID]struct{}{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func activeLess(a, b *queuedPod) bool {
	if a.info.priority != b.info.priority {
		return a.info.priority > b.info.priority
	}
	return a.added.Before(b.added)
}

func backoffLess(a, b *queuedPod) bool { return a.backoffAt.Before(b.backoffAt) }

// add puts a newly seen pending pod on the active queue, or refreshes it if it
// is already queued (an update that changes the pod may make it schedulable).
func (q *queue) add(pi *podInfo) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp := q.all[pi.pod.UID]; qp != nil {
		q.updateLocked(qp, pi)
		return
	}
	qp := &queuedPod{info: pi, added: q.now()}
	q.all[pi.pod.UID] = qp
	q.pushActiveLocked(qp)
}

// update refreshes a queued pod. A pod waiting as unschedulable is retried at
// once (or after its back-off), since the change may be what it needed.
func (q *queue) update(pi *podInfo) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp := q.all[pi.pod.UID]
	if qp == nil {
		return false
	}
	q.updateLocked(qp, pi)
	return true
}

// changedInFlight notes that a pod not in the queue (being scheduled) changed.
func (q *queue) changedInFlight(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.all[uid] == nil {
		q.changed[uid] = struct{}{}
	}
}

func (q *queue) updateLocked(qp *queuedPod, pi *podInfo) {
	qp.info = pi
	switch qp.where {
	case inActive:
		heap.Fix(&q.active, qp.index)
	case inUnschedulable:
		delete(q.unschedulable, pi.pod.UID)
		q.requeueLocked(qp)
	}
}

// refresh replaces a queued pod's object without retrying it: the update did
// not change anything that decides where it fits.
func (q *queue) refresh(pi *podInfo) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp := q.all[pi.pod.UID]; qp != nil {
		qp.info = pi
		if qp.where == inActive {
			heap.Fix(&q.active, qp.index)
		}
	}
}

// has reports whether the pod is queued (not in flight).
func (q *queue) has(uid types.UID) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.all[uid] != nil
}

// remove drops a pod that was deleted, bound elsewhere, or is no longer ours.
func (q *queue) remove(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.changed, uid)
	qp := q.all[uid]
	if qp == nil {
		return
	}
	delete(q.all, uid)
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.index)
	case inBackoff:
		heap.Remove(&q.backoff, qp.index)
	case inUnschedulable:
		delete(q.unschedulable, uid)
	}
	qp.where = nowhere
}

func (q *queue) pushActiveLocked(qp *queuedPod) {
	qp.where = inActive
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

// requeueLocked sends a pod to back-off if it is still backing off, else to the
// active queue.
func (q *queue) requeueLocked(qp *queuedPod) {
	if qp.attempts > 0 && q.now().Before(qp.backoffAt) {
		qp.where = inBackoff
		heap.Push(&q.backoff, qp)
		return
	}
	qp.added = q.now()
	q.pushActiveLocked(qp)
}

// pop blocks until a pod is active and returns it with the scheduling cycle it
// starts, or nil once the queue is closed. The pod leaves the queue: it is in
// flight until done or failed is called for it.
func (q *queue) pop() (*queuedPod, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, 0
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	qp.where = nowhere
	delete(q.all, qp.info.pod.UID)
	q.cycle++
	return qp, q.cycle
}

func (q *queue) backoffFor(attempts int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < attempts && d < q.maxBackoff; i++ {
		d *= 2
	}
	return min(d, q.maxBackoff)
}

// failed returns a pod whose attempt in the given cycle found no node. Unless
// the cluster changed since the attempt began, it waits for a change; errors
// (a failed binding) and pods that missed a change go through back-off.
// stillPending is consulted under the queue's lock, so that a pod deleted or
// bound meanwhile is not brought back.
func (q *queue) failed(qp *queuedPod, cycle int64, unschedulable bool, stillPending func() *podInfo) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.all[qp.info.pod.UID] != nil {
		return
	}
	pi := stillPending()
	if pi == nil {
		return
	}
	qp.info = pi
	qp.attempts++
	qp.lastTry = q.now()
	qp.backoffAt = qp.lastTry.Add(q.backoffFor(qp.attempts))
	q.all[pi.pod.UID] = qp
	_, changed := q.changed[pi.pod.UID]
	delete(q.changed, pi.pod.UID)
	if unschedulable && q.moveCycle < cycle && !changed {
		qp.where = inUnschedulable
		q.unschedulable[pi.pod.UID] = qp
		return
	}
	qp.where = inBackoff
	heap.Push(&q.backoff, qp)
}

// moveAll is called on a cluster change that may let unschedulable pods fit.
func (q *queue) moveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle = q.cycle
	for uid, qp := range q.unschedulable {
		delete(q.unschedulable, uid)
		q.requeueLocked(qp)
	}
}

// flush moves pods whose back-off ended to the active queue, and retries pods
// that have waited as unschedulable for too long.
func (q *queue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for q.backoff.Len() > 0 && !now.Before(q.backoff.items[0].backoffAt) {
		qp := heap.Pop(&q.backoff).(*queuedPod)
		qp.added = now
		q.pushActiveLocked(qp)
	}
	for uid, qp := range q.unschedulable {
		if now.Sub(qp.lastTry) >= q.maxUnschedulable {
			delete(q.unschedulable, uid)
			q.requeueLocked(qp)
		}
	}
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// lens reports how many pods each part holds (tests and logs).
func (q *queue) lens() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// podHeap is a heap of queued pods that keeps each pod's index current.
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items)
	qp := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	return qp
}
