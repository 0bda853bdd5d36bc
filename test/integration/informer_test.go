package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/test/harness"
)

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "0"}}
}

// TestInformerSeesEveryWrite: an informer started before a burst of concurrent
// creates, updates and deletes ends with exactly the stored state, and its
// handlers saw every object's final version.
func TestInformerSeesEveryWrite(t *testing.T) {
	for _, ct := range contentTypes {
		t.Run(ct, func(t *testing.T) { informerSeesEveryWrite(t, ct) })
	}
}

// contentTypes are the encodings client-go can be configured for.
var contentTypes = []string{"application/json", "application/vnd.kubernetes.protobuf"}

// clientFor is the cluster's client speaking the given encoding both ways.
func clientFor(t *testing.T, c *harness.Cluster, contentType string) kubernetes.Interface {
	cfg := rest.CopyConfig(c.Config)
	cfg.ContentType = contentType
	cfg.AcceptContentTypes = contentType
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func informerSeesEveryWrite(t *testing.T, contentType string) {
	hc := harness.StartCluster(t, harness.Options{})
	c := &harness.Cluster{Client: clientFor(t, hc, contentType)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ns = "default"
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().ConfigMaps().Informer()
	var adds, updates, deletes atomic.Int64
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { adds.Add(1) },
		UpdateFunc: func(any, any) { updates.Add(1) },
		DeleteFunc: func(any) { deletes.Add(1) },
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer never synced")
	}
	base := len(inf.GetStore().List())
	cms := c.Client.CoreV1().ConfigMaps(ns)
	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				name := fmt.Sprintf("cm-%d-%d", w, i)
				cm, err := cms.Create(ctx, configMap(name), metav1.CreateOptions{})
				if err != nil {
					t.Errorf("create %s: %v", name, err)
					return
				}
				cm.Data["v"] = "1"
				if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
					t.Errorf("update %s: %v", name, err)
					return
				}
				if i%4 == 0 {
					if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
						t.Errorf("delete %s: %v", name, err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	want := writers * each
	wantLeft := want - writers*(each/4)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if len(inf.GetStore().List()) == wantLeft+base && int(deletes.Load()) == writers*(each/4) && int(updates.Load()) >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := int(adds.Load()) - base; got != want {
		t.Errorf("adds = %d, want %d", got, want)
	}
	if got := int(updates.Load()); got != want {
		t.Errorf("updates = %d, want %d", got, want)
	}
	if got := int(deletes.Load()); got != writers*(each/4) {
		t.Errorf("deletes = %d, want %d", got, writers*(each/4))
	}
	for _, o := range inf.GetStore().List() {
		cm := o.(*corev1.ConfigMap)
		if !strings.HasPrefix(cm.Name, "cm-") {
			continue // the namespace's own (kube-root-ca.crt)
		}
		if cm.Data["v"] != "1" {
			t.Errorf("%s: informer holds a stale version (v=%s)", cm.Name, cm.Data["v"])
		}
	}
}

// TestWatchFromCompactedRevisionIs410 checks the Status a client gets when it
// resumes from history the server no longer has, and that an informer recovers
// from it by relisting.
func TestWatchFromCompactedRevisionIs410(t *testing.T) {
	for _, ct := range contentTypes {
		t.Run(ct, func(t *testing.T) { watchFromCompactedRevisionIs410(t, ct) })
	}
}

func watchFromCompactedRevisionIs410(t *testing.T, contentType string) {
	hc := harness.StartCluster(t, harness.Options{WatchHistory: 20})
	c := &harness.Cluster{Client: clientFor(t, hc, contentType)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cms := c.Client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, configMap("first"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		if _, err := cms.Create(ctx, configMap(fmt.Sprintf("filler-%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	ev := <-w.ResultChan()
	w.Stop()
	if ev.Type != watch.Error || !apierrors.IsResourceExpired(apierrors.FromObject(ev.Object)) {
		t.Fatalf("watch from an expired revision: got %s %#v, want ERROR 410 Expired", ev.Type, ev.Object)
	}

	// An informer whose first watch resumes from that expired revision relists.
	var once sync.Once
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) { return cms.List(ctx, o) },
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			once.Do(func() { o.ResourceVersion = first.ResourceVersion })
			return cms.Watch(ctx, o)
		},
	}
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	r := cache.NewReflector(lw, &corev1.ConfigMap{}, store, 0)
	go r.Run(ctx.Done())
	if _, err := cms.Create(ctx, configMap("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ours := func() int { // the configmaps this test made
		n := 0
		for _, k := range store.ListKeys() {
			if k != "default/kube-root-ca.crt" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok, _ := store.GetByKey("default/after"); ok && ours() == 62 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("reflector did not recover after 410: store has %d of the test's objects", ours())
}

// TestInformerResumesAfterRestart: an informer that watched a server before it
// restarted resumes its watch from the last revision it saw, without listing
// again, and misses nothing written meanwhile or since.
func TestInformerResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	first := harness.StartCluster(t, harness.Options{DisableControllers: true, DataDir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The informer's client outlives the first server: same address, same credentials.
	client := first.Client
	cms := client.CoreV1().ConfigMaps("default")
	var lists atomic.Int64
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			lists.Add(1)
			return cms.List(ctx, o)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			if o.SendInitialEvents != nil && *o.SendInitialEvents {
				lists.Add(1) // a listing by watch (client-go's WatchList)
			}
			return cms.Watch(ctx, o)
		},
	}
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	r := cache.NewReflector(lw, &corev1.ConfigMap{}, store, 0)
	go r.Run(ctx.Done())
	has := func(name string) bool { _, ok, _ := store.GetByKey("default/" + name); return ok }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s (store holds %v)", what, store.ListKeys())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, name := range []string{"before-1", "before-2"} {
		if _, err := cms.Create(ctx, configMap(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("the informer seeing the first writes", func() bool { return has("before-2") })
	// Writes the informer does not see: the last revision it saw is older
	// than the server's when it stops.
	for i := 0; i < 5; i++ {
		if _, err := client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	first.Stop()
	second := harness.StartCluster(t, harness.Options{DisableControllers: true, DataDir: dir, Port: first.Port})
	if err := second.Client.CoreV1().ConfigMaps("default").Delete(ctx, "before-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Client.CoreV1().ConfigMaps("default").Create(ctx, configMap("after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the informer seeing the writes after the restart", func() bool { return has("after") && !has("before-1") })
	if n := lists.Load(); n != 1 {
		t.Errorf("the informer listed %d times (by LIST or by a watch with initial events); want 1: its watch resumes across the restart", n)
	}
}
