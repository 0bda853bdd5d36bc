package hollow_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller/nodeipam"
	"github.com/skiffhq/skiff/pkg/hollow"
	"github.com/skiffhq/skiff/test/harness"
)

// BenchmarkPodsRunning: 100 hollow nodes, 3,000 pods created already bound
// (30 a node), from the first create until every pod is Running.
//
//	go test -run XXX -bench PodsRunning -benchtime 1x ./pkg/hollow
func BenchmarkPodsRunning(b *testing.B) {
	const nodes, pods = 100, 3000
	c := harness.StartCluster(b, harness.Options{DisableControllers: true})
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS = -1 // no client-side limit: the server is what is measured
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	ipam := nodeipam.New(client, factory, nodeipam.Options{})
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown() })
	factory.Start(ctx.Done())
	wg.Go(func() { _ = ipam.Run(ctx) })
	started := time.Now()
	hollows, err := hollow.StartN(ctx, client, nodes, hollow.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cancel()
		for _, n := range hollows {
			<-n.Done()
		}
	})
	for _, n := range hollows {
		for {
			node, err := client.CoreV1().Nodes().Get(ctx, n.Name(), metav1.GetOptions{})
			if err == nil && node.Spec.PodCIDR != "" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(time.Since(started).Milliseconds()), "ms-nodes-ready")

	b.StopTimer()
	for i := 0; i < b.N; i++ {
		ns := fmt.Sprintf("bench-%d", i)
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		var running atomic.Int64
		allRunning := make(chan struct{})
		seen := sync.Map{}
		var createdAt sync.Map // pod name -> time.Time
		var latMu sync.Mutex
		var lat []time.Duration
		watchCtx, stopWatch := context.WithCancel(ctx)
		inf := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns)).Core().V1().Pods().Informer()
		count := func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning {
				if _, dup := seen.LoadOrStore(p.Name, true); !dup {
					if t0, ok := createdAt.Load(p.Name); ok {
						latMu.Lock()
						lat = append(lat, time.Since(t0.(time.Time)))
						latMu.Unlock()
					}
					if running.Add(1) == pods {
						close(allRunning)
					}
				}
			}
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: count, UpdateFunc: func(_, o any) { count(o) }})
		go inf.Run(watchCtx.Done())
		cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)

		b.StartTimer()
		start := time.Now()
		var created sync.WaitGroup
		next := atomic.Int64{}
		for range 64 {
			created.Go(func() {
				for j := next.Add(1) - 1; j < pods; j = next.Add(1) - 1 {
					p := &corev1.Pod{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", j), Namespace: ns},
						Spec: corev1.PodSpec{
							NodeName:   fmt.Sprintf("hollow-%d", j%nodes+1),
							Containers: []corev1.Container{{Name: "kubia", Image: "luksa/kubia"}},
						},
					}
					t0 := time.Now()
					if _, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
						b.Error(err)
						return
					}
					createdAt.Store(p.Name, t0)
				}
			})
		}
		created.Wait()
		createdIn := time.Since(start)
		select {
		case <-allRunning:
		case <-time.After(60 * time.Second):
			b.Fatalf("%d of %d pods Running after 60s", running.Load(), pods)
		}
		total := time.Since(start)
		b.StopTimer()
		stopWatch()
		b.ReportMetric(float64(createdIn.Milliseconds()), "ms-create")
		b.ReportMetric(float64(total.Milliseconds()), "ms-all-running")
		b.ReportMetric(float64((total - createdIn).Milliseconds()), "ms-after-last-create")
		slices.Sort(lat)
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "ms-p50-create-to-running")
			b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "ms-p99-create-to-running")
		}
	}
}
