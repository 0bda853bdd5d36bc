package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestLeadSurvivesALostLease: a term whose lease another server took ends as
// the control loops do (their cache sync cut short returns the context's
// error); lead does not take that for a failure, which would stop the server,
// and leads again once the lease is free.
func TestLeadSurvivesALostLease(t *testing.T) {
	client := testAPI(t)
	if _, err := client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	timing := LeaderElection{LeaseDuration: time.Second, RenewDeadline: 500 * time.Millisecond, RetryPeriod: 50 * time.Millisecond}
	terms := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- lead(ctx, client, "loops", "me", timing, slog.New(slog.DiscardHandler), func(tctx context.Context) error {
			terms <- struct{}{}
			<-tctx.Done()
			return tctx.Err()
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-terms:
		case err := <-done:
			t.Fatalf("lead returned %v while waiting for %s", err, what)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	wait("first term")

	// Another server holds the lease for 1.5 s, longer than our renew deadline.
	leases := client.CoordinationV1().Leases("kube-system")
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		l, err := leases.Get(ctx, "loops", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("thief"), LeaseDurationSeconds: ptr.To[int32](1),
			AcquireTime: &metav1.MicroTime{Time: time.Now()}, RenewTime: &metav1.MicroTime{Time: time.Now()}}
		if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
	wait("term after the lease came free again")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("lead stopped with %v", err)
	}
}

// testAPI is a client of an in-process API server on memory storage.
func testAPI(t *testing.T) kubernetes.Interface {
	t.Helper()
	tokens := map[string]apiserver.User{}
	api := apiserver.New(apiserver.Config{Storage: memory.New(), Registry: registry.New(registry.Options{}), Version: Version, Tokens: tokens})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-api.Ready()
	lb, err := newLoopback(api, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.shutdown)
	tokens[lb.token] = apiserver.User{Name: "test", Groups: []string{"system:masters"}}
	client, err := kubernetes.NewForConfig(lb.config())
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestServerIdentity: a server's identity stays the same across restarts on
// its data dir, and differs from that of a server of the same name elsewhere.
func TestServerIdentity(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	first, err := serverIdentity(dir, "s1")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := serverIdentity(dir, "s1")
	namesake, _ := serverIdentity(other, "s1")
	if first != again || !strings.HasPrefix(first, "s1_") {
		t.Errorf("identity %q, then %q after a restart", first, again)
	}
	if namesake == first {
		t.Errorf("two servers named s1 on two data dirs share the identity %q", first)
	}
}
