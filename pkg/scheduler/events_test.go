package scheduler

import (
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gatedSink is an event sink whose creates block until the gate opens; it
// records the order of calls.
type gatedSink struct {
	gate  chan struct{}
	mu    sync.Mutex
	calls []string
}

func (s *gatedSink) note(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

func (s *gatedSink) Create(e *corev1.Event) (*corev1.Event, error) {
	<-s.gate
	s.note("create " + e.Name)
	return e, nil
}

func (s *gatedSink) Update(e *corev1.Event) (*corev1.Event, error) {
	s.note("update " + e.Name)
	return e, nil
}

func (s *gatedSink) Patch(e *corev1.Event, _ []byte) (*corev1.Event, error) {
	s.note("patch " + e.Name)
	return e, nil
}

func TestAsyncSink(t *testing.T) {
	sink := &gatedSink{gate: make(chan struct{})}
	a := newAsyncSink(sink, 2)
	// Creates return while the API is stuck: more of them than writers.
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if _, err := a.Create(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	patched := make(chan struct{})
	go func() {
		// A patch of an event still being created waits for the create.
		_, _ = a.Patch(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "e"}}, nil)
		close(patched)
	}()
	close(sink.gate)
	<-patched
	a.close()

	sink.mu.Lock()
	defer sink.mu.Unlock()
	pos := map[string]int{}
	for i, c := range sink.calls {
		pos[c] = i
	}
	if len(sink.calls) != 6 || len(pos) != 6 || pos["create e"] > pos["patch e"] {
		t.Fatalf("calls %v: want five creates, the patch of e after the create of e", sink.calls)
	}
}
