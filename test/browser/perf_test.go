package browser

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/chromedp/chromedp"

	"github.com/skiffhq/skiff/test/harness"
)

const (
	perfNodes = 100
	perfPods  = 3000
)

// BenchmarkDashboard: with 3,000 pods on 100 hollow nodes, how long the pod
// list takes to first paint in a real Chromium, and a scale from 3,000 to 0
// followed live: until the page shows no pod, and the longest the page's main
// thread was busy at once meanwhile (a stall the user would feel).
func BenchmarkDashboard(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run is the measurement; use -benchtime 1x")
	}
	br := Start(b, "perf")
	c := harness.StartCluster(b, harness.Options{HollowNodes: perfNodes})
	ctx := context.Background()
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "scale"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To(int32(perfPods)),
			Selector: map[string]string{"run": "scale"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"run": "scale"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kubia", Image: "luksa/kubia"}}},
			},
		},
	}
	if _, err := c.Client.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		running := 0
		if err == nil {
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
		}
		if running == perfPods {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d pods Running after two minutes", running, perfPods)
		}
		time.Sleep(200 * time.Millisecond)
	}
	k := Newest(b)
	url := DashboardURL(b, c, k, KubectlProxy(b, c, k))

	br.Run("open the pods", 30*time.Second, chromedp.Navigate(url+"/#/pods?ns=default"))
	br.Wait("the first paint", `performance.getEntriesByName('skiff:pods-first-paint').length > 0`, 30*time.Second)
	paint := Eval[float64](br, "the first paint", `performance.getEntriesByName('skiff:pods-first-paint')[0].startTime`)
	br.Wait("every pod counted", fmt.Sprintf(`document.querySelector('#count')?.textContent.trim() === '%d'`, perfPods), 30*time.Second)
	br.Screenshot("3000 pods")

	// The longest task and the longest gap between frames from here on.
	Eval[bool](br, "watch the main thread", `(() => {
		window.__longest = 0; window.__gap = 0;
		new PerformanceObserver(l => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); }).observe({type: 'longtask'});
		let last = performance.now();
		const frame = now => { window.__gap = Math.max(window.__gap, now - last); last = now; if (!window.__stop) requestAnimationFrame(frame); };
		requestAnimationFrame(frame);
		return true;
	})()`)
	start := time.Now()
	if _, err := c.Client.CoreV1().ReplicationControllers("default").Patch(ctx, "scale", types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
		b.Fatal(err)
	}
	br.Wait("no pod left in the page", `document.querySelector('#count')?.textContent.trim() === '0'`, 2*time.Minute)
	gone := time.Since(start)
	longest := Eval[float64](br, "the longest task", `window.__stop = true, window.__longest`)
	gap := Eval[float64](br, "the longest frame gap", `window.__gap`)
	br.Screenshot("scaled to 0")

	b.ReportMetric(paint, "ms-pods-first-paint")
	b.ReportMetric(gone.Seconds(), "s-page-shows-0")
	b.ReportMetric(longest, "ms-longest-task")
	b.ReportMetric(gap, "ms-longest-frame-gap")
	b.Logf("\n| dashboard, %d pods on %d hollow nodes | Skiff |\n|---|---|\n"+
		"| pod list: first paint after navigation | %.0f ms |\n"+
		"| scale %d -> 0: until the page shows no pod | %.2f s |\n"+
		"| meanwhile: longest main-thread task / longest gap between frames | %.0f / %.0f ms |",
		perfPods, perfNodes, paint, perfPods, gone.Seconds(), longest, gap)
}
