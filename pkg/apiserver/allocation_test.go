package apiserver

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestAllocationAcrossServers: two servers on one storage, each creating
// objects that take the lowest number no other object holds, never hand out
// the same number: the allocation lock in storage orders them, and each reads
// what the other took before it allocates. Without the lock (a server that
// thinks its storage is its own), they do.
func TestAllocationAcrossServers(t *testing.T) {
	for _, shared := range []bool{true, false} {
		dups := allocateOnTwoServers(t, shared)
		if shared && dups > 0 {
			t.Errorf("sharing storage: %d numbers handed out twice", dups)
		}
		if !shared && dups == 0 {
			t.Logf("without the lock no number was handed out twice this time (a race, not a guarantee)")
		}
	}
}

func allocateOnTwoServers(t *testing.T, shared bool) int {
	t.Helper()
	newRes := func() *Resource {
		res := &Resource{GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Name: "configmaps", Namespaced: true, Allocates: true,
			New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }}
		res.BeforeCreate = func(_ context.Context, v View, obj runtime.Object) error {
			taken := map[string]bool{}
			for _, o := range v.List("v1", "configmaps") {
				taken[o.(*corev1.ConfigMap).Data["n"]] = true
			}
			n := 0
			for taken[strconv.Itoa(n)] {
				n++
			}
			obj.(*corev1.ConfigMap).Data = map[string]string{"n": strconv.Itoa(n)}
			return nil
		}
		return res
	}
	store := memory.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var servers []*Server
	var resources []*Resource
	for range 2 {
		res := newRes()
		s := New(Config{Storage: store, Registry: NewRegistry(res), SharedStorage: shared})
		go func() { _ = s.Run(ctx) }()
		<-s.Ready()
		servers, resources = append(servers, s), append(resources, res)
	}
	var wg sync.WaitGroup
	for i, s := range servers {
		for j := range 20 {
			wg.Go(func() {
				if _, err := s.create(ctx, resources[i], "default", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-" + strconv.Itoa(i) + "-" + strconv.Itoa(j)}}, false); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	kvs, _, err := store.List(ctx, "/registry/")
	if err != nil {
		t.Fatal(err)
	}
	seen, dups := map[string]bool{}, 0
	for _, kv := range kvs {
		obj, err := servers[0].cache.decode(kv)
		if err != nil {
			t.Fatal(err)
		}
		cm, _ := obj.object()
		n := cm.(*corev1.ConfigMap).Data["n"]
		if seen[n] {
			dups++
		}
		seen[n] = true
	}
	if len(kvs) != 40 {
		t.Fatalf("%d objects stored, want 40", len(kvs))
	}
	return dups
}

// TestAllocationLockTakeover: a lock left by a server that died is taken over
// once it has stayed as it is for the TTL on this server's clock, whatever
// its holder wrote in it; a lock that changes meanwhile is not.
func TestAllocationLockTakeover(t *testing.T) {
	defer func(ttl time.Duration) { allocationLockTTL = ttl }(allocationLockTTL)
	allocationLockTTL = 300 * time.Millisecond
	store := memory.New()
	s := startShared(t, store)
	ctx := context.Background()
	// A holder that died, whose clock said its lock would last for years.
	if _, err := store.Create(ctx, allocationLockKey, []byte("dead 99999999999999")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.allocMu.Lock()
	rev, err := s.takeAllocationLock(ctx)
	s.allocMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < allocationLockTTL {
		t.Fatalf("took the lock after %v, before its TTL", waited)
	}
	// A live holder renews its lock (here: rewrites it) more often than
	// the TTL: it is never taken over.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for cur := rev; ; {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			var err error
			if cur, err = store.Update(ctx, allocationLockKey, []byte("live"), cur); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	tctx, cancel := context.WithTimeout(ctx, 4*allocationLockTTL)
	s.allocMu.Lock()
	_, err = s.takeAllocationLock(tctx)
	s.allocMu.Unlock()
	cancel()
	close(stop)
	<-done
	if err == nil {
		t.Fatal("took over a lock its holder kept changing")
	}
}
