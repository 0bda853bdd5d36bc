package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/scheduler"
	"github.com/skiffhq/skiff/test/harness"
)

// BenchmarkScheduleThroughput measures how fast the scheduler binds a backlog:
// 100 Ready nodes (32 CPUs, 256Gi, 110 pods each) and SKIFF_BENCH_PODS (default
// 3,000) pending pods of one ReplicationController, all created before the
// scheduler starts. The clock runs from starting the informers and the
// scheduler until the API shows every pod bound; pods/s is the result. Each
// iteration is a whole backlog, so run it with -benchtime 1x (or a few x):
//
//	go test -run '^$' -bench ScheduleThroughput -benchtime 1x -count 5 ./pkg/scheduler
func BenchmarkScheduleThroughput(b *testing.B) {
	const nodes = 100
	pods := 3000
	if v, err := strconv.Atoi(os.Getenv("SKIFF_BENCH_PODS")); err == nil && v > 0 {
		pods = v
	}
	c := harness.StartCluster(b, harness.Options{DisableControllers: true})
	// The client the server gives its own components: the in-process loopback, no
	// client-side rate limit.
	client, err := kubernetes.NewForConfig(c.Server.LoopbackConfig())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	parallel(nodes, 16, func(i int) error { return createBenchNode(ctx, client, fmt.Sprintf("hollow-%d", i+1)) })

	var total, cpu time.Duration
	var bound, scheduledEvents int
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		ns := fmt.Sprintf("bench-%d", i)
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		rc, err := client.CoreV1().ReplicationControllers(ns).Create(ctx, benchRC(pods), metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		parallel(pods, 32, func(j int) error {
			_, err := client.CoreV1().Pods(ns).Create(ctx, benchPod(rc, j), metav1.CreateOptions{})
			return err
		})
		runCtx, cancel := context.WithCancel(ctx)
		factory := informers.NewSharedInformerFactory(client, 0)
		s, err := scheduler.New(client, factory, scheduler.Options{})
		if err != nil {
			b.Fatal(err)
		}
		allBound := countBound(b, factory, ns, pods)
		done := make(chan error, 1)
		b.StartTimer()
		start, cpuStart := time.Now(), processCPU()
		factory.Start(runCtx.Done())
		go func() { done <- s.Run(runCtx) }()
		select {
		case <-allBound:
		case <-time.After(2 * time.Minute):
			b.Fatalf("not all %d pods bound after 2m", pods)
		}
		elapsed, cpuUsed := time.Since(start), processCPU()-cpuStart
		b.StopTimer()

		total += elapsed
		cpu += cpuUsed
		bound += pods
		scheduledEvents += countScheduledEvents(b, client, ns)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		factory.Shutdown()
		parallel(pods, 32, func(j int) error {
			return client.CoreV1().Pods(ns).Delete(ctx, fmt.Sprintf("kubia-%05d", j), metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
		})
	}
	b.ReportMetric(float64(bound)/total.Seconds(), "pods/s")
	b.ReportMetric(float64(scheduledEvents)/float64(bound), "events/pod")
	// CPU of the whole process (API server, storage, scheduler, the watch that
	// counts) per pod: unlike pods/s, it does not depend on what else the
	// machine is running.
	b.ReportMetric(float64(cpu.Microseconds())/float64(bound), "cpu-µs/pod")
}

// countBound watches the benchmark's pods through the scheduler's own pod
// informer (so that counting costs no second watch) and closes the returned
// channel once want of them are bound.
func countBound(b *testing.B, factory informers.SharedInformerFactory, ns string, want int) <-chan struct{} {
	var mu sync.Mutex
	seen := map[string]bool{}
	done := make(chan struct{})
	note := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Namespace != ns || p.Spec.NodeName == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[p.Name] {
			seen[p.Name] = true
			if len(seen) == want {
				close(done)
			}
		}
	}
	_, err := factory.Core().V1().Pods().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    note,
		UpdateFunc: func(_, obj any) { note(obj) },
	})
	if err != nil {
		b.Fatal(err)
	}
	return done
}

// countScheduledEvents waits briefly for the Scheduled events to land (they are
// written asynchronously) and counts them.
func countScheduledEvents(b *testing.B, client kubernetes.Interface, ns string) int {
	var n, last int
	for stable := 0; stable < 3; {
		list, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "reason=Scheduled"})
		if err != nil {
			b.Fatal(err)
		}
		n = len(list.Items)
		if n == last {
			stable++
		} else {
			stable = 0
		}
		last = n
		time.Sleep(200 * time.Millisecond)
	}
	return n
}

func createBenchNode(ctx context.Context, client kubernetes.Interface, name string) error {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Capacity: rl, Allocatable: rl,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		},
	}
	created, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	created.Status = n.Status
	_, err = client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

func benchRC(replicas int) *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To(int32(replicas)),
			Selector: map[string]string{"app": "kubia"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kubia", Image: "kubia"}}},
			},
		},
	}
}

func benchPod(rc *corev1.ReplicationController, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   fmt.Sprintf("kubia-%05d", i),
			Labels: map[string]string{"app": "kubia"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ReplicationController", Name: rc.Name,
				UID: rc.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "kubia", Image: "kubia",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("10m"),
				corev1.ResourceMemory: resource.MustParse("16Mi"),
			}},
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel runs fn for 0..n-1 on workers goroutines and panics on the first
// error (benchmark setup only).
func parallel(n, workers int, fn func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		panic(firstErr)
	}
}
