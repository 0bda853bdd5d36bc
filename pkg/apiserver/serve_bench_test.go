package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// BenchmarkServeGet is the handler's own cost of a GET of one pod, as an
// admin's bearer token asks for it (authentication, authorization, routing,
// encoding), without TLS or a socket.
func BenchmarkServeGet(b *testing.B) {
	pods := &Resource{Name: "pods", GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }}
	s := New(Config{Storage: memory.New(), Registry: NewRegistry(pods),
		Tokens: map[string]User{"admin": {Name: "admin", Groups: []string{"system:masters"}}}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	if _, err := s.Create(ctx, pods, "default", pod); err != nil {
		b.Fatal(err)
	}
	for _, accept := range []string{"application/json", "application/vnd.kubernetes.protobuf"} {
		b.Run(accept, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/v1/namespaces/default/pods/p", nil)
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
		})
	}
}
