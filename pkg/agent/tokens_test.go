package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// TestTokenFiles: a projected service account token is asked for bound to
// the pod, with the projection's audience and lifetime, reused until four
// fifths of its life have passed, and then renewed; without a token API the
// volume fails with a clear error.
func TestTokenFiles(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { timeNow = f }(timeNow)
	timeNow = func() time.Time { return now }

	client := fake.NewClientset()
	var asked []*authenticationv1.TokenRequest
	client.PrependReactor("create", "serviceaccounts", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "token" {
			return false, nil, nil
		}
		req := action.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		asked = append(asked, req)
		out := req.DeepCopy()
		out.Status = authenticationv1.TokenRequestStatus{
			Token:               fmt.Sprintf("token-%d", len(asked)),
			ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
		}
		return true, out, nil
	})
	a := &Agent{client: client}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}, Spec: corev1.PodSpec{ServiceAccountName: "builder"}}
	src := &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "vault", ExpirationSeconds: ptr.To(int64(1000))}
	refs := &podRefs{a: a, ns: "default", tokens: tokenCache{}}

	read := func() string {
		t.Helper()
		files, err := a.tokenFiles(context.Background(), refs, pod, src)
		if err != nil || len(files) != 1 || files[0].path != "token" {
			t.Fatalf("token files: %v, %v", files, err)
		}
		return string(files[0].data)
	}
	if got := read(); got != "token-1" {
		t.Fatalf("first token %q", got)
	}
	r := asked[0]
	if r.Spec.Audiences[0] != "vault" || *r.Spec.ExpirationSeconds != 1000 || r.Spec.BoundObjectRef.Name != "web" || r.Spec.BoundObjectRef.UID != "u1" {
		t.Errorf("token request: %+v", r.Spec)
	}
	now = now.Add(700 * time.Second)
	if got := read(); got != "token-1" || len(asked) != 1 {
		t.Errorf("at 70%% of its life: %q after %d requests, want the same token", got, len(asked))
	}
	now = now.Add(150 * time.Second)
	if got := read(); got != "token-2" {
		t.Errorf("at 85%% of its life: %q, want a renewed token", got)
	}

	refs = &podRefs{a: &Agent{client: fake.NewClientset()}, ns: "default", tokens: tokenCache{}}
	refs.a.client.(*fake.Clientset).PrependReactor("create", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), "builder")
	})
	if _, err := refs.a.tokenFiles(context.Background(), refs, pod, src); err == nil || !isConfigError(err) {
		t.Errorf("without a token API: %v, want a configuration error", err)
	}
}
