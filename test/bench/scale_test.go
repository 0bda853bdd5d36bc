package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiffhq/skiff/test/harness"
)

const (
	scaleNodes    = 100
	scaleReplicas = 3000
)

// podTracker follows every pod of the benchmark RC through one watch and records
// when each was first seen bound, first seen Running, and when all were gone.
type podTracker struct {
	mu      sync.Mutex
	seen    map[types.UID]time.Time
	bound   map[types.UID]time.Time
	running map[types.UID]time.Time
	live    map[types.UID]bool
	changed chan struct{}
}

func (pt *podTracker) observe(ev watch.Event) {
	pod, ok := ev.Object.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if ev.Type == watch.Deleted {
		delete(pt.live, pod.UID)
	} else {
		pt.live[pod.UID] = true
		if _, ok := pt.seen[pod.UID]; !ok {
			pt.seen[pod.UID] = now
		}
		if pod.Spec.NodeName != "" {
			if _, ok := pt.bound[pod.UID]; !ok {
				pt.bound[pod.UID] = now
			}
		}
		if pod.Status.Phase == corev1.PodRunning {
			if _, ok := pt.running[pod.UID]; !ok {
				pt.running[pod.UID] = now
			}
		}
	}
	select {
	case pt.changed <- struct{}{}:
	default:
	}
}

func (pt *podTracker) counts() (live, bound, running int) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return len(pt.live), len(pt.bound), len(pt.running)
}

func (pt *podTracker) waitFor(b *testing.B, what string, d time.Duration, cond func(live, bound, running int) bool) time.Time {
	deadline := time.After(d)
	for {
		if l, bo, r := pt.counts(); cond(l, bo, r) {
			return time.Now()
		}
		select {
		case <-pt.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			l, bo, r := pt.counts()
			b.Fatalf("%s: not reached after %v (live %d, bound %d, running %d)", what, d, l, bo, r)
		}
	}
}

// BenchmarkScale: with 100 hollow nodes in the server process, an RC of 3,000
// replicas from create to all Running, scheduler throughput, API create latency
// during the run, the server's RSS, and scaling back to 0.
func BenchmarkScale(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run is the measurement; use -benchtime 1x")
	}
	p := harness.StartProcess(b, "", "--hollow-nodes", fmt.Sprint(scaleNodes))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deadline := time.Now().Add(60 * time.Second)
	for {
		nodes, err := p.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range nodes.Items {
				if n.Spec.PodCIDR != "" {
					ready++
				}
			}
		}
		if ready == scaleNodes {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d hollow nodes registered with a pod CIDR", ready, scaleNodes)
		}
		time.Sleep(200 * time.Millisecond)
	}
	pt := &podTracker{seen: map[types.UID]time.Time{}, bound: map[types.UID]time.Time{}, running: map[types.UID]time.Time{}, live: map[types.UID]bool{}, changed: make(chan struct{}, 1)}
	w, err := p.Client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "run=scale"})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for ev := range w.ResultChan() {
			pt.observe(ev)
		}
	}()

	// Sequential creates running alongside: the latency a user sees mid-storm.
	var lat []time.Duration
	probeDone := make(chan struct{})
	probeCtx, stopProbe := context.WithCancel(ctx)
	go func() {
		defer close(probeDone)
		for i := 0; probeCtx.Err() == nil; i++ {
			s := time.Now()
			_, err := p.Client.CoreV1().ConfigMaps("default").Create(probeCtx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("probe-%d", i)}}, metav1.CreateOptions{})
			if err == nil {
				lat = append(lat, time.Since(s))
			}
		}
	}()

	replicas := int32(scaleReplicas)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "scale"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: map[string]string{"run": "scale"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"run": "scale"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kubia", Image: "luksa/kubia"}}},
			},
		},
	}
	idle := p.Memory(b)
	profDir := os.Getenv("SKIFF_BENCH_PROFILES")
	if profDir != "" {
		go saveProfile(ctx, b, p, profDir, "cpu-up.pprof", "/debug/pprof/profile", "seconds=2")
	}
	cpuStart := serverCPU(b, p)
	start := time.Now()
	if _, err := p.Client.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	allRunning := pt.waitFor(b, "all Running", 120*time.Second, func(_, _, r int) bool { return r == scaleReplicas })
	stopProbe()
	<-probeDone
	upTime := allRunning.Sub(start)

	pt.mu.Lock()
	span := func(m map[types.UID]time.Time) (first, last time.Time) {
		for _, t := range m {
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
		return first, last
	}
	first, last := span(pt.bound)
	// When the last pod was seen created, bound and Running: which stage trails.
	_, lastCreated := span(pt.seen)
	_, lastRunning := span(pt.running)
	pt.mu.Unlock()
	schedRate := float64(scaleReplicas) / last.Sub(first).Seconds()
	cpuUp := serverCPU(b, p) - cpuStart
	mem := p.Memory(b)
	if profDir != "" {
		saveProfile(ctx, b, p, profDir, "heap-up.pprof", "/debug/pprof/heap", "gc=1")
		saveProfile(ctx, b, p, profDir, "heap-up.txt", "/debug/pprof/heap", "debug=1")
		saveProfile(ctx, b, p, profDir, "goroutines-up.txt", "/debug/pprof/goroutine", "debug=1")
		if smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", p.Cmd.Process.Pid)); err == nil {
			_ = os.WriteFile(filepath.Join(profDir, "smaps-up"), smaps, 0o644)
		}
	}

	downStart := time.Now()
	if _, err := p.Client.CoreV1().ReplicationControllers("default").Patch(ctx, "scale", types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
		b.Fatal(err)
	}
	cpuDown := serverCPU(b, p)
	allGone := pt.waitFor(b, "all pods gone", 120*time.Second, func(l, _, _ int) bool { return l == 0 })
	downTime := allGone.Sub(downStart)
	cpuDown = serverCPU(b, p) - cpuDown

	wf := benchWorkloads(ctx, b, p)

	p50, p99 := time.Duration(0), time.Duration(0)
	if len(lat) > 0 {
		p50, p99 = percentiles(lat)
	}
	b.ReportMetric(upTime.Seconds(), "s-to-running")
	b.ReportMetric(downTime.Seconds(), "s-to-zero")
	b.ReportMetric(schedRate, "sched-pods/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "create-p99-ms")
	b.ReportMetric(float64(mem.RSS)/(1<<20), "rss-MB")
	b.ReportMetric(float64(mem.Anon)/(1<<20), "anon-MB")
	// CPU time is what a shared machine blurs least: wall times depend on what
	// else runs. (A benchmark's log is cut after ten lines: one table.)
	b.ReportMetric(cpuUp.Seconds(), "cpu-s-to-running")
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	split := func(m harness.Memory) string {
		return fmt.Sprintf("%.0f MB: %.0f / %.0f / %.0f / %.0f", mb(m.RSS), mb(m.Anon), mb(m.Binary), mb(m.Database), mb(m.RSS-m.Anon-m.Binary-m.Database))
	}
	b.Logf("\n| measure (%d hollow nodes, RC of %d) | Skiff |\n|---|---|\n"+
		"| create RC -> all Running (last pod created / bound / Running) | %.2f s (%.2f / %.2f / %.2f s) |\n"+
		"| scheduler throughput | %.0f pods/s |\n"+
		"| API create during the run (p50 / p99, %d samples) | %.1f / %.1f ms |\n"+
		"| server RSS at the end (before the RC): anonymous / its binary / the database file / other | %s (%s) |\n"+
		"| scale to 0 -> all pods gone | %.2f s |\n"+
		"| server CPU time to all Running / to 0 | %.2f / %.2f s |",
		scaleNodes, scaleReplicas, upTime.Seconds(), lastCreated.Sub(start).Seconds(), last.Sub(start).Seconds(), lastRunning.Sub(start).Seconds(),
		schedRate, len(lat), float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000,
		split(mem), split(idle),
		downTime.Seconds(), cpuUp.Seconds(), cpuDown.Seconds())
	b.ReportMetric(wf.deployUp.Seconds(), "s-deploy-available")
	b.ReportMetric(wf.rollout.Seconds(), "s-rollout")
	b.ReportMetric(wf.daemonSet.Seconds(), "s-daemonset-running")
	b.ReportMetric(wf.jobs.Seconds(), "s-jobs-complete")
	b.ReportMetric(mb(wf.rolloutMem.RSS), "rss-rollout-MB")
	// A benchmark's log keeps ten lines, taken by the table above: this one
	// goes to the output as it is.
	fmt.Printf("\n| measure (same run, %d hollow nodes) | Skiff | vs the RC |\n|---|---|---|\n"+
		"| Deployment of %d -> all available | %.2f s | %.2fx the RC's time to Running |\n"+
		"| rolling update (25%%/25%%) -> all new pods available | %.2f s, RSS %s | RSS %.2fx the RC storm's |\n"+
		"| DaemonSet -> %d pods Running | %.3f s | |\n"+
		"| %d Jobs of one pod -> all Complete | %.2f s (%.0f pods/s) | |",
		scaleNodes, scaleReplicas, wf.deployUp.Seconds(), wf.deployUp.Seconds()/upTime.Seconds(),
		wf.rollout.Seconds(), split(wf.rolloutMem), float64(wf.rolloutMem.RSS)/float64(mem.RSS),
		scaleNodes, wf.daemonSet.Seconds(),
		benchJobs, wf.jobs.Seconds(), benchJobs/wf.jobs.Seconds())
	fmt.Println()
}

// serverCPU is the CPU time (user and system) the server process has used.
func serverCPU(b *testing.B, p *harness.Process) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	var ticks int64
	for _, s := range f[11:13] {
		n, _ := strconv.ParseInt(s, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// saveProfile fetches one of the server's /debug/pprof profiles into dir, for
// `go tool pprof`. Set SKIFF_BENCH_PROFILES=dir to have BenchmarkScale save a
// CPU profile of the scale-up and, once all pods run, heap and goroutine
// profiles and the server's /proc/PID/smaps.
func saveProfile(ctx context.Context, b *testing.B, p *harness.Process, dir, name, path, params string) {
	req := p.Client.CoreV1().RESTClient().Get().AbsPath(path)
	for _, kv := range strings.Split(params, "&") {
		k, v, _ := strings.Cut(kv, "=")
		req = req.Param(k, v)
	}
	data, err := req.DoRaw(ctx)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	if err != nil {
		b.Logf("profile %s: %v", name, err)
	}
}
