package apiserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// BenchmarkCoreEvents is what the handler spends on core/v1 Events, the
// kind the scheduler and every control loop write most: a create as the
// server makes it, and a GET and a LIST of 1,000 as a client asks for them.
// The events.k8s.io/v1 view of the same objects must not change these.
func BenchmarkCoreEvents(b *testing.B) {
	b.Run("create", func(b *testing.B) {
		create := eventServer(b)
		b.ReportAllocs()
		for b.Loop() {
			create()
		}
	})
	s := eventServerWith(b, 1000)
	b.Run("get", func(b *testing.B) {
		benchGet(b, s, "/api/v1/namespaces/bench/events/p1.17a2b3c4d5e6f708", "application/json")
	})
	b.Run("list1000", func(b *testing.B) {
		benchGet(b, s, "/api/v1/namespaces/bench/events", "application/vnd.kubernetes.protobuf")
	})
}

// BenchmarkEventsView is what reading the same Events through
// events.k8s.io/v1 costs: each object is converted as it is read.
func BenchmarkEventsView(b *testing.B) {
	s := eventServerWith(b, 1000)
	b.Run("get", func(b *testing.B) {
		benchGet(b, s, "/apis/events.k8s.io/v1/namespaces/bench/events/p1.17a2b3c4d5e6f708", "application/json")
	})
	b.Run("list1000", func(b *testing.B) {
		benchGet(b, s, "/apis/events.k8s.io/v1/namespaces/bench/events", "application/vnd.kubernetes.protobuf")
	})
}

func benchGet(b *testing.B, s *apiserver.Server, path, accept string) {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer admin")
	req.Header.Set("Accept", accept)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
}

// eventServer starts a server with the namespace "bench" and returns what
// creates one more core/v1 Event there, as the scheduler writes it.
func eventServer(b *testing.B) (create func()) {
	_, create = startEventServer(b)
	return create
}

// eventServerWith starts a server holding n Events p1... in "bench".
func eventServerWith(b *testing.B, n int) *apiserver.Server {
	s, create := startEventServer(b)
	for range n {
		create()
	}
	return s
}

func startEventServer(b *testing.B) (*apiserver.Server, func()) {
	reg := registry.New(registry.Options{}.WithDefaults())
	s := apiserver.New(apiserver.Config{Storage: memory.New(), Registry: reg,
		Tokens: map[string]apiserver.User{"admin": {Name: "admin", Groups: []string{"system:masters"}}}})
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	if _, err := s.Create(ctx, reg.Lookup("v1", "namespaces"), "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}); err != nil {
		b.Fatal(err)
	}
	events := reg.Lookup("v1", "events")
	n := 0
	return s, func() {
		n++
		now := metav1.NewTime(time.Now())
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "p" + strconv.Itoa(n) + ".17a2b3c4d5e6f708", Namespace: "bench"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "bench", Name: "p" + strconv.Itoa(n), UID: "u", APIVersion: "v1"},
			Reason:         "Scheduled", Message: "Successfully assigned bench/p to hollow-1", Type: corev1.EventTypeNormal,
			Source:         corev1.EventSource{Component: "default-scheduler"},
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}
		if _, err := s.Create(ctx, events, "bench", ev); err != nil {
			b.Fatal(err)
		}
	}
}
