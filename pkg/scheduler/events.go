package scheduler

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
)

// asyncSink writes new events from a few goroutines instead of the one that
// client-go's broadcaster calls it from. That goroutine reads from a queue of
// 1,000 events and drops what does not fit, so a burst of thousands of bindings
// (each with its Scheduled event) would lose most of their events if every
// create waited for the API server in turn.
//
// Patches (an event seen again) stay synchronous; one that names an event whose
// create is still queued waits for that create, so the count is not lost.
type asyncSink struct {
	sink record.EventSink

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*corev1.Event
	pending map[string]chan struct{} // namespace/name -> closed when created
	closed  bool
	wg      sync.WaitGroup
}

func newAsyncSink(sink record.EventSink, workers int) *asyncSink {
	a := &asyncSink{sink: sink, pending: map[string]chan struct{}{}}
	a.cond = sync.NewCond(&a.mu)
	for range workers {
		a.wg.Add(1)
		go a.work()
	}
	return a
}

func eventKey(e *corev1.Event) string { return e.Namespace + "/" + e.Name }

func (a *asyncSink) Create(e *corev1.Event) (*corev1.Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return a.sink.Create(e)
	}
	if _, ok := a.pending[eventKey(e)]; !ok {
		a.pending[eventKey(e)] = make(chan struct{})
	}
	a.queue = append(a.queue, e.DeepCopy())
	a.cond.Signal()
	return e, nil
}

func (a *asyncSink) Update(e *corev1.Event) (*corev1.Event, error) {
	a.wait(e)
	return a.sink.Update(e)
}

func (a *asyncSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	a.wait(e)
	return a.sink.Patch(e, data)
}

func (a *asyncSink) wait(e *corev1.Event) {
	a.mu.Lock()
	ch := a.pending[eventKey(e)]
	a.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (a *asyncSink) work() {
	defer a.wg.Done()
	for {
		a.mu.Lock()
		for len(a.queue) == 0 && !a.closed {
			a.cond.Wait()
		}
		if len(a.queue) == 0 {
			a.mu.Unlock()
			return
		}
		e := a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.mu.Unlock()

		a.create(e)

		a.mu.Lock()
		if ch := a.pending[eventKey(e)]; ch != nil && !a.closed {
			close(ch)
			delete(a.pending, eventKey(e))
		}
		a.mu.Unlock()
	}
}

// create writes one event, retrying a few times on errors that are not the
// server refusing it (as the broadcaster would have).
func (a *asyncSink) create(e *corev1.Event) {
	for try := 0; try < 3; try++ {
		_, err := a.sink.Create(e)
		if err == nil {
			return
		}
		if _, ok := err.(apierrors.APIStatus); ok {
			return
		}
		a.mu.Lock()
		closed := a.closed
		a.mu.Unlock()
		if closed {
			return
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
}

// close drops the events not yet sent and waits for the ones being sent, like
// the broadcaster's own shutdown.
func (a *asyncSink) close() {
	a.mu.Lock()
	a.closed = true
	a.queue = nil
	for k, ch := range a.pending {
		close(ch)
		delete(a.pending, k)
	}
	a.cond.Broadcast()
	a.mu.Unlock()
	a.wg.Wait()
}
