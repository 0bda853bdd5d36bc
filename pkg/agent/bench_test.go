package agent_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiffhq/skiff/pkg/images"
)

// BenchmarkPodStartup measures pod startup latency with the image present:
// "agent" is create → Running as a watch sees it, through the API server and
// the agent; "floor" is RunPodSandbox + CreateContainer + StartContainer timed
// directly against the same containerd. Each iteration starts one pod of each
// kind, alternately, so that both see the same machine; pods stay running.
// Run it with -benchtime 30x:
//
//	go test -run '^$' -bench PodStartup -benchtime 30x ./pkg/agent
func BenchmarkPodStartup(b *testing.B) {
	n := newTestNode(b, nil)
	ctx := context.Background()
	img, err := n.cri.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: images.DemoRef}})
	if err != nil || img.Image == nil {
		b.Fatalf("demo image: %v", err)
	}
	pods := n.client.CoreV1().Pods("default")
	var floor, viaAgent []time.Duration
	var sandboxes []string
	for i := 0; b.Loop(); i++ {
		d, id := floorStart(b, n, img.Image.Id, fmt.Sprintf("floor-%d", i))
		floor = append(floor, d)
		sandboxes = append(sandboxes, id)
		viaAgent = append(viaAgent, agentStart(b, pods, fmt.Sprintf("bench-%d", i)))
	}
	b.StopTimer()
	report(b, "floor", floor)
	report(b, "agent", viaAgent)
	for _, id := range sandboxes {
		_, _ = n.cri.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
		_, _ = n.cri.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	}
}

// floorStart starts a kubia pod with three CRI calls.
func floorStart(b *testing.B, n *testNode, image, uid string) (time.Duration, string) {
	ctx := context.Background()
	sb := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: uid, Namespace: "bench", Uid: uid},
		Hostname:     uid,
		LogDirectory: n.dataDir + "/agent/pods/bench_" + uid,
		Labels:       map[string]string{"io.kubernetes.pod.uid": uid},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    n.cgroup + "/pod" + uid,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{}},
		},
	}
	start := time.Now()
	run, err := n.cri.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sb})
	if err != nil {
		b.Fatal(err)
	}
	c, err := n.cri.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  run.PodSandboxId,
		SandboxConfig: sb,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "kubia"},
			Image:    &runtimeapi.ImageSpec{Image: image},
			LogPath:  "kubia/0.log",
			Labels:   map[string]string{"io.kubernetes.pod.uid": uid},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := n.cri.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		b.Fatal(err)
	}
	return time.Since(start), run.PodSandboxId
}

// agentStart creates a kubia pod and waits for a watch to report it Running.
func agentStart(b *testing.B, pods typedcorev1.PodInterface, name string) time.Duration {
	ctx := context.Background()
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	if _, err := pods.Create(ctx, kubiaPod(name), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	timeout := time.After(time.Minute)
	for {
		select {
		case ev := <-w.ResultChan():
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning {
				return time.Since(start)
			}
		case <-timeout:
			b.Fatalf("pod %s not Running after a minute", name)
		}
	}
}

func report(b *testing.B, what string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) time.Duration {
		i := int(p*float64(len(sorted))+0.5) - 1
		return sorted[min(max(i, 0), len(sorted)-1)]
	}
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, what+"-p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, what+"-p99-ms")
	b.Logf("%-5s %d pods: p50 %v, p99 %v, max %v", what, len(sorted), pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond))
}
