package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/harness"
)

const benchJobs = 1000

// workloadFigures are the apps/v1 and batch/v1 measures taken in the same
// server process as the RC storm, after its pods are gone.
type workloadFigures struct {
	deployUp, rollout, daemonSet, jobs time.Duration
	rolloutMem                         harness.Memory
}

// benchWorkloads runs, one after the other on the scale benchmark's hollow
// nodes: a Deployment of scaleReplicas from create to all available, its
// rolling update (25%/25%) to a new image until every pod is new and
// available, a DaemonSet until one pod per node runs, and benchJobs Jobs of one
// pod each until all are Complete. It removes each workload before the next.
func benchWorkloads(ctx context.Context, b *testing.B, p *harness.Process) workloadFigures {
	var f workloadFigures
	deployments := p.Client.AppsV1().Deployments("default")
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(scaleReplicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kubia", Image: "luksa/kubia:v1"}}},
			},
		},
	}
	start := time.Now()
	if _, err := deployments.Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitFor(ctx, b, "deployment available", deploymentsLW(p, "web"), &appsv1.Deployment{}, func(o runtime.Object) bool {
		s := o.(*appsv1.Deployment).Status
		return s.AvailableReplicas == scaleReplicas
	})
	f.deployUp = time.Since(start)

	start = time.Now()
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"kubia","image":"luksa/kubia:v2"}]}}}}`)
	up, err := deployments.Patch(ctx, "web", types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		b.Fatal(err)
	}
	waitFor(ctx, b, "rollout complete", deploymentsLW(p, "web"), &appsv1.Deployment{}, func(o runtime.Object) bool {
		d := o.(*appsv1.Deployment)
		s := d.Status
		return s.ObservedGeneration >= up.Generation && s.UpdatedReplicas == scaleReplicas &&
			s.Replicas == scaleReplicas && s.AvailableReplicas == scaleReplicas
	})
	f.rollout = time.Since(start)
	f.rolloutMem = p.Memory(b)
	if dir := os.Getenv("SKIFF_BENCH_PROFILES"); dir != "" {
		saveProfile(ctx, b, p, dir, "heap-rollout.pprof", "/debug/pprof/heap", "gc=1")
	}
	deleteAndWait(ctx, b, p, func() error {
		return deployments.Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	})

	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "busybox"}}},
			},
		},
	}
	daemonSets := p.Client.AppsV1().DaemonSets("default")
	start = time.Now()
	if _, err := daemonSets.Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitFor(ctx, b, "daemon pods Running", podsLW(p, "app=agent"), &corev1.Pod{}, countingRunning(scaleNodes))
	f.daemonSet = time.Since(start)
	deleteAndWait(ctx, b, p, func() error {
		return daemonSets.Delete(ctx, "agent", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	})

	f.jobs = benchJobsComplete(ctx, b, p)
	return f
}

// benchJobsComplete creates benchJobs Jobs whose one pod exits 0 (on a hollow
// node, `sh -c 'exit 0'` exits at once) from 32 clients and times them to all
// Complete.
func benchJobsComplete(ctx context.Context, b *testing.B, p *harness.Process) time.Duration {
	jobs := p.Client.BatchV1().Jobs("default")
	var complete atomic.Int64
	done := make(chan struct{})
	seen := map[types.UID]bool{}
	var mu sync.Mutex
	lw := listWatch(jobs.List, jobs.Watch, "bench=jobs", "")
	count := func(obj any) {
		j, ok := obj.(*batchv1.Job)
		if !ok {
			return
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				mu.Lock()
				if !seen[j.UID] {
					seen[j.UID] = true
					if complete.Add(1) == benchJobs {
						close(done)
					}
				}
				mu.Unlock()
			}
		}
	}
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw, ObjectType: &batchv1.Job{},
		Handler: cache.ResourceEventHandlerFuncs{AddFunc: count, UpdateFunc: func(_, o any) { count(o) }},
	})
	stop := make(chan struct{})
	defer close(stop)
	go informer.Run(stop)
	cache.WaitForCacheSync(stop, informer.HasSynced)

	start := time.Now()
	var wg sync.WaitGroup
	names := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				j := &batchv1.Job{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("job-%d", i), Labels: map[string]string{"bench": "jobs"}},
					Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever,
						Containers:    []corev1.Container{{Name: "run", Image: "busybox", Command: []string{"sh", "-c", "exit 0"}}},
					}}},
				}
				if _, err := jobs.Create(ctx, j, metav1.CreateOptions{}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range benchJobs {
		names <- i
	}
	close(names)
	wg.Wait()
	select {
	case <-done:
	case <-time.After(180 * time.Second):
		b.Fatalf("only %d of %d jobs Complete after 180 s", complete.Load(), benchJobs)
	}
	took := time.Since(start)
	deleteAndWait(ctx, b, p, func() error {
		return jobs.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}, metav1.ListOptions{LabelSelector: "bench=jobs"})
	})
	return took
}

// listWatch lists and watches one client's objects matching the selectors.
func listWatch[T runtime.Object](list func(context.Context, metav1.ListOptions) (T, error), watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error), labelSel, fieldSel string) cache.ListerWatcher {
	return &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector, o.FieldSelector = labelSel, fieldSel
			return list(context.Background(), o)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector, o.FieldSelector = labelSel, fieldSel
			return watchFn(context.Background(), o)
		},
	}
}

func deploymentsLW(p *harness.Process, name string) cache.ListerWatcher {
	c := p.Client.AppsV1().Deployments("default")
	return listWatch(c.List, c.Watch, "", fields.OneTermEqualSelector("metadata.name", name).String())
}

func podsLW(p *harness.Process, selector string) cache.ListerWatcher {
	c := p.Client.CoreV1().Pods("default")
	return listWatch(c.List, c.Watch, selector, "")
}

// countingRunning is a waitFor condition over a pod watch: true once n
// distinct pods have been seen Running.
func countingRunning(n int) func(runtime.Object) bool {
	running := map[types.UID]bool{}
	return func(o runtime.Object) bool {
		if pod := o.(*corev1.Pod); pod.Status.Phase == corev1.PodRunning {
			running[pod.UID] = true
		}
		return len(running) >= n
	}
}

// waitFor watches (after a list) until cond holds for an object, for at most
// two minutes.
func waitFor(ctx context.Context, b *testing.B, what string, lw cache.ListerWatcher, obj runtime.Object, cond func(runtime.Object) bool) {
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	_, err := watchtools.UntilWithSync(ctx, lw, obj, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, nil
		}
		return cond(ev.Object), nil
	})
	if err != nil {
		b.Fatalf("%s: %v", what, err)
	}
}

// deleteAndWait deletes a workload and waits until no pod is left in the
// namespace, so that the next measure starts from an empty cluster.
func deleteAndWait(ctx context.Context, b *testing.B, p *harness.Process, del func() error) {
	if err := del(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		pods, err := p.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err == nil && len(pods.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("pods still there two minutes after a delete: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
