package job_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

// BenchmarkJobsComplete: a server with every control loop and 100 hollow
// nodes; 1,000 Jobs of one pod each (`sh -c 'exit 0'`), from the first create
// until every Job is Complete.
//
//	go test -run XXX -bench JobsComplete -benchtime 1x ./pkg/controller/job
func BenchmarkJobsComplete(b *testing.B) {
	const jobs = 1000
	c := harness.StartCluster(b, harness.Options{HollowNodes: 100})
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS = -1
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		ns := fmt.Sprintf("bench-%d", i)
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		var complete atomic.Int64
		allComplete := make(chan struct{})
		var seen sync.Map
		watchCtx, stopWatch := context.WithCancel(ctx)
		inf := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns)).Batch().V1().Jobs().Informer()
		count := func(obj any) {
			j, ok := obj.(*batchv1.Job)
			if !ok {
				return
			}
			for _, cond := range j.Status.Conditions {
				if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
					if _, dup := seen.LoadOrStore(j.Name, true); !dup && complete.Add(1) == jobs {
						close(allComplete)
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
		var next atomic.Int64
		for range 32 {
			created.Go(func() {
				for k := next.Add(1) - 1; k < jobs; k = next.Add(1) - 1 {
					j := &batchv1.Job{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("j-%d", k), Namespace: ns},
						Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
							RestartPolicy: corev1.RestartPolicyNever,
							Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}},
						}}, BackoffLimit: ptr.To[int32](0)},
					}
					if _, err := client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		created.Wait()
		createdIn := time.Since(start)
		select {
		case <-allComplete:
		case <-time.After(5 * time.Minute):
			b.Fatalf("%d of %d jobs Complete after 5m", complete.Load(), jobs)
		}
		total := time.Since(start)
		b.StopTimer()
		stopWatch()
		b.ReportMetric(float64(createdIn.Milliseconds()), "ms-create")
		b.ReportMetric(float64(total.Milliseconds()), "ms-all-complete")
	}
}
