package agent_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiffhq/skiff/pkg/images"
	"github.com/skiffhq/skiff/pkg/registry/core"
)

// BenchmarkPodStartup measures pod startup latency with the image present:
// "agent" is create → Running as a watch sees it, through the API server and
// the agent; "floor" is RunPodSandbox + CreateContainer + StartContainer timed
// directly against the same containerd. Each iteration starts one pod of each
// kind, alternately, so that both see the same machine; pods stay running.
// Run it with -benchtime 30x:
//
//	go test -run '^$' -bench PodStartup -benchtime 30x ./pkg/agent
func BenchmarkPodStartup(b *testing.B) { benchmarkPodStartup(b, podPlain) }

// BenchmarkPodStartupSidecar is BenchmarkPodStartup with the pod shape
// issue 17 measures: a sidecar (a restartable init container, started before
// the app) and a projected volume of a config map, a secret and downward API
// items. Its floor starts the sandbox and two containers, in order.
func BenchmarkPodStartupSidecar(b *testing.B) { benchmarkPodStartup(b, podSidecar) }

// BenchmarkPodStartupCredentials is BenchmarkPodStartup with what
// ServiceAccount admission gives every pod of a server: the kube-api-access
// volume (a token the node asks of the API server, the cluster CA and the
// namespace). Its floor is BenchmarkPodStartup's.
func BenchmarkPodStartupCredentials(b *testing.B) { benchmarkPodStartup(b, podCredentials) }

type podShape int

const (
	podPlain podShape = iota
	podSidecar
	podCredentials
)

func benchmarkPodStartup(b *testing.B, shape podShape) {
	sidecar := shape == podSidecar
	n := newTestNode(b, nil)
	ctx := context.Background()
	if shape == podCredentials {
		// What the controllers (off in this cluster) would have made.
		if _, err := n.client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
		if _, err := n.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}, Data: map[string]string{"ca.crt": "bench"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	containers := 1
	if sidecar {
		containers = 2
		if _, err := n.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := n.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Data: map[string][]byte{"s": []byte("v")}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	img, err := n.cri.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: images.DemoRef}})
	if err != nil || img.Image == nil {
		b.Fatalf("demo image: %v", err)
	}
	pods := n.client.CoreV1().Pods("default")
	var floor, viaAgent []time.Duration
	var sandboxes []string
	for i := 0; b.Loop(); i++ {
		d, id := floorStart(b, n, img.Image.Id, fmt.Sprintf("floor-%d", i), containers)
		floor = append(floor, d)
		sandboxes = append(sandboxes, id)
		pod := kubiaPod(fmt.Sprintf("bench-%d", i))
		if sidecar {
			withSidecarAndProjection(pod)
		}
		if shape == podCredentials {
			pod.Spec.ServiceAccountName = "default"
			pod.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-bench", VolumeSource: corev1.VolumeSource{Projected: core.TokenVolumeSource()}}}
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access-bench", ReadOnly: true, MountPath: core.ServiceAccountMountPath}}
		}
		viaAgent = append(viaAgent, agentStart(b, pods, pod))
	}
	b.StopTimer()
	report(b, "floor", floor)
	report(b, "agent", viaAgent)
	for _, id := range sandboxes {
		_, _ = n.cri.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
		_, _ = n.cri.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	}
}

// withSidecarAndProjection adds a kubia sidecar that polls the app, and a
// projected volume, to pod.
func withSidecarAndProjection(pod *corev1.Pod) {
	always := corev1.ContainerRestartPolicyAlways
	pod.Spec.InitContainers = []corev1.Container{{
		Name: "poller", Image: "luksa/kubia", ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"/kubia", "poll", "http://127.0.0.1:8080/"}, RestartPolicy: &always,
	}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "info", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "bench"}}},
		{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "bench"}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}},
	}}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "info", MountPath: "/info"}}
}

// floorStart starts a kubia pod with a sandbox and containers containers,
// in order, with the fewest CRI calls.
func floorStart(b *testing.B, n *testNode, image, uid string, containers int) (time.Duration, string) {
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
	for i := range containers {
		name := fmt.Sprintf("c%d", i)
		c, err := n.cri.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId:  run.PodSandboxId,
			SandboxConfig: sb,
			Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: name},
				Image:    &runtimeapi.ImageSpec{Image: image},
				LogPath:  name + "/0.log",
				Labels:   map[string]string{"io.kubernetes.pod.uid": uid},
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.cri.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start), run.PodSandboxId
}

// agentStart creates the pod and waits for a watch to report it Running.
func agentStart(b *testing.B, pods typedcorev1.PodInterface, pod *corev1.Pod) time.Duration {
	ctx := context.Background()
	name := pod.Name
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
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
