package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/agent"
)

// TestTwoContainers: a sidecar reaches the main container on localhost (one
// network namespace per pod) and both see the pod's hostname (one UTS
// namespace).
func TestTwoContainers(t *testing.T) {
	n := newTestNode(t, nil)
	pod := kubiaPod("twocontainers")
	sidecar := pod.Spec.Containers[0]
	sidecar.Name = "sidecar"
	sidecar.Ports = nil
	sidecar.Args = []string{"poll", "http://localhost:8080/"}
	pod.Spec.Containers = append(pod.Spec.Containers, sidecar)
	// TCP probes, dialled inside the node's network namespace.
	tcp := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}
	pod.Spec.Containers[0].StartupProbe = &corev1.Probe{ProbeHandler: tcp, PeriodSeconds: 1, FailureThreshold: 30}
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: tcp, PeriodSeconds: 1}
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Running with both containers ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	if cs := status(p, "kubia"); cs.Started == nil || !*cs.Started || !cs.Ready {
		t.Errorf("main container after its startup and readiness probes: %+v", cs)
	}
	want := "hostname=twocontainers got=You've hit twocontainers"
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(n.containerLog(p, "sidecar", 0), want) {
		if time.Now().After(deadline) {
			t.Fatalf("sidecar log has no %q:\n%s", want, n.containerLog(p, "sidecar", 0))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h := strings.TrimSpace(n.exec(p, "kubia", "/kubia", "hostname")); h != "twocontainers" {
		t.Errorf("main container hostname %q", h)
	}
}

// TestCrashLoopBackOff: a container that keeps exiting is restarted with
// growing delays, and reports CrashLoopBackOff with its last exit.
func TestCrashLoopBackOff(t *testing.T) {
	n := newTestNode(t, nil) // back-off 1s doubling to 8s
	n.create(kubiaPod("crasher", corev1.EnvVar{Name: "KUBIA_EXIT_AFTER", Value: "0s"}))

	var restartsAt []time.Time
	sawBackOff := false
	p := n.waitPod("crasher", 90*time.Second, "restarted 4 times", func(p *corev1.Pod) bool {
		cs := status(p, "kubia")
		for int(cs.RestartCount) > len(restartsAt) {
			restartsAt = append(restartsAt, time.Now())
		}
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			sawBackOff = true
			if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" {
				t.Errorf("CrashLoopBackOff without the last exit: %+v", cs.LastTerminationState)
			}
			if !strings.Contains(w.Message, "back-off") || !strings.Contains(w.Message, "restarting failed container=kubia pod=crasher_default") {
				t.Errorf("waiting message %q", w.Message)
			}
		}
		return cs.RestartCount >= 4
	})
	if !sawBackOff {
		t.Errorf("never saw CrashLoopBackOff:\n%s", describe(p))
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running (restartPolicy Always)", p.Status.Phase)
	}
	// Restarts: immediately, then after 1s, 2s, 4s.
	t.Logf("restarts seen at %v", restartsAt)
	first, last := restartsAt[1].Sub(restartsAt[0]), restartsAt[3].Sub(restartsAt[2])
	if last <= first || last < 3*time.Second {
		t.Errorf("back-off did not grow: restarts at %v (gaps %v then %v)", restartsAt, first, last)
	}
}

// TestRestartPolicyNever: a failing container of a Never pod fails the pod;
// a succeeding one of an OnFailure pod completes it.
func TestRestartPolicyNever(t *testing.T) {
	n := newTestNode(t, nil)
	failing := kubiaPod("fails", corev1.EnvVar{Name: "KUBIA_EXIT_AFTER", Value: "0s"}, corev1.EnvVar{Name: "KUBIA_EXIT_CODE", Value: "3"})
	failing.Spec.RestartPolicy = corev1.RestartPolicyNever
	n.create(failing)
	done := kubiaPod("completes", corev1.EnvVar{Name: "KUBIA_EXIT_AFTER", Value: "0s"}, corev1.EnvVar{Name: "KUBIA_EXIT_CODE", Value: "0"})
	done.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	n.create(done)

	p := n.waitPod("fails", 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := status(p, "kubia").State.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" || status(p, "kubia").RestartCount != 0 {
		t.Errorf("failed pod's container:\n%s", describe(p))
	}
	p = n.waitPod("completes", 60*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if term := status(p, "kubia").State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
		t.Errorf("completed pod's container:\n%s", describe(p))
	}
}

// TestLivenessProbe: the seed's kubia-unhealthy answers 500 after a few
// requests; the failing liveness probe gets the container restarted.
func TestLivenessProbe(t *testing.T) {
	n := newTestNode(t, nil)
	pod := kubiaPod("kubia-liveness", corev1.EnvVar{Name: "KUBIA_UNHEALTHY_AFTER", Value: "3"})
	pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 1,
	}
	n.create(pod)
	p := n.waitPod(pod.Name, 90*time.Second, "restarted by its liveness probe", func(p *corev1.Pod) bool {
		cs := status(p, "kubia")
		return cs.RestartCount >= 1 && cs.State.Running != nil
	})
	last := status(p, "kubia").LastTerminationState.Terminated
	if last == nil {
		t.Fatalf("no last state after a liveness restart:\n%s", describe(p))
	}
	events, err := n.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=kubia-liveness"})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	unhealthy := false
	for _, e := range events.Items {
		reasons = append(reasons, e.Reason+": "+e.Message)
		unhealthy = unhealthy || (e.Reason == "Unhealthy" && strings.Contains(e.Message, "Liveness probe failed: HTTP probe failed with statuscode: 500"))
	}
	if !unhealthy {
		t.Errorf("no Unhealthy event; events:\n%s", strings.Join(reasons, "\n"))
	}
}

// TestReadinessProbe: a pod is Ready only once its readiness probe passes.
func TestReadinessProbe(t *testing.T) {
	n := newTestNode(t, nil)
	pod := kubiaPod("kubia-readiness", corev1.EnvVar{Name: "KUBIA_READY_AFTER", Value: "4s"})
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/kubia", "get", "http://localhost:8080/ready"}}},
		PeriodSeconds: 1,
	}
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Running", running)
	startedAt := status(p, "kubia").State.Running.StartedAt.Time
	if ready(p) {
		t.Fatalf("Ready as soon as Running, before the readiness probe could pass:\n%s", describe(p))
	}
	if cs := status(p, "kubia"); cs.Ready {
		t.Errorf("container ready before its probe passed")
	}
	p = n.waitPod(pod.Name, 60*time.Second, "Ready", ready)
	var readyAt time.Time
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			readyAt = c.LastTransitionTime.Time
		}
	}
	if readyAt.Sub(startedAt) < 3*time.Second {
		t.Errorf("Ready %v after the container started; the app is ready only after 4s", readyAt.Sub(startedAt))
	}
}

// TestDeleteSendsSIGTERM: deleting a pod stops its container with SIGTERM
// (its handler runs), then the agent removes the pod object.
func TestDeleteSendsSIGTERM(t *testing.T) {
	n := newTestNode(t, nil)
	hostDir := t.TempDir()
	pod := kubiaPod("kubia-term", corev1.EnvVar{Name: "KUBIA_SIGNAL_FILE", Value: "/host/signals"})
	pod.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: "/host"}}
	pod.Spec.TerminationGracePeriodSeconds = ptr.To(int64(30))
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Running", running)
	// Serving means its signal handler is installed.
	if _, err := n.get(p.Status.PodIP, 8080, "/"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := n.client.CoreV1().Pods("default").Delete(context.Background(), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitGone(pod.Name, 25*time.Second)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("deletion took %v: the container was not stopped by SIGTERM but killed after the grace period", took)
	}
	b, _ := os.ReadFile(filepath.Join(hostDir, "signals"))
	if string(b) != "Received SIGTERM, shutting down\n" {
		t.Errorf("the container's SIGTERM handler wrote %q", b)
	}
	sbs, err := n.cri.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sbs.Items) != 0 {
		t.Errorf("%d sandboxes left after the pod was deleted", len(sbs.Items))
	}
}

// TestDeletedPodWithFinalizerEnds: a pod that keeps a finalizer (as a Job's
// pods do) and is deleted has its containers stopped, and its status then says
// so, with a terminal phase, as a kubelet's: kubia exits 0 on SIGTERM, so the
// pod ends Succeeded. It goes once the finalizer is removed.
func TestDeletedPodWithFinalizerEnds(t *testing.T) {
	n := newTestNode(t, nil)
	pod := kubiaPod("kubia-final")
	pod.Finalizers = []string{"skiff.test/keep"}
	n.create(pod)
	n.waitPod(pod.Name, 60*time.Second, "Running", running)
	pods := n.client.CoreV1().Pods("default")
	if err := pods.Delete(context.Background(), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p := n.waitPod(pod.Name, 30*time.Second, "Succeeded while terminating", func(p *corev1.Pod) bool {
		return p.DeletionTimestamp != nil && p.Status.Phase == corev1.PodSucceeded
	})
	if st := status(p, "kubia"); st.State.Terminated == nil || st.State.Terminated.ExitCode != 0 {
		t.Fatalf("container status after the delete: %s", describe(p))
	}
	if _, err := pods.Patch(context.Background(), pod.Name, types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitGone(pod.Name, 20*time.Second)
}

// TestAgentRestartAdoptsPods: stopping the agent (and its containerd) leaves
// the pods running; a new agent adopts them with the same container IDs and
// restart counts, and removes the sandbox of a pod deleted meanwhile.
func TestAgentRestartAdoptsPods(t *testing.T) {
	n := newTestNode(t, func(o *agent.Options) { o.RemovePodsOnExit = false })
	pod := kubiaPod("kubia-adopt", corev1.EnvVar{Name: "KUBIA_CRASH_ONCE", Value: "/data/crashed"})
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	n.create(pod)
	n.create(kubiaPod("kubia-doomed"))
	before := n.waitPod(pod.Name, 60*time.Second, "Running after one crash", func(p *corev1.Pod) bool {
		return running(p) && ready(p) && status(p, "kubia").RestartCount == 1
	})
	n.waitPod("kubia-doomed", 60*time.Second, "Running", running)

	n.stop()
	// Gone while no agent runs: its sandbox must not outlive the new start.
	if err := n.client.CoreV1().Pods("default").Delete(context.Background(), "kubia-doomed", metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if body, err := n.get(before.Status.PodIP, 8080, "/"); err != nil || body != "You've hit kubia-adopt\n" {
		t.Fatalf("pod not serving while the agent is down: %q %v", body, err)
	}
	n.opts.RemovePodsOnExit = true
	n.start()

	time.Sleep(2 * time.Second) // several relists and syncs
	after := n.waitPod(pod.Name, 30*time.Second, "Running", running)
	b, a := status(before, "kubia"), status(after, "kubia")
	if a.ContainerID != b.ContainerID || a.RestartCount != 1 || after.Status.PodIP != before.Status.PodIP {
		t.Errorf("not adopted: container %s restarts %d IP %s, before %s restarts %d IP %s", a.ContainerID, a.RestartCount, after.Status.PodIP, b.ContainerID, b.RestartCount, before.Status.PodIP)
	}
	sbs, err := n.cri.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range sbs.Items {
		if sb.Metadata.Name != pod.Name {
			t.Errorf("sandbox of %s (deleted while the agent was down) still exists", sb.Metadata.Name)
		}
	}
	if len(sbs.Items) != 1 {
		t.Errorf("%d sandboxes, want the adopted pod's one", len(sbs.Items))
	}
	if body, err := n.get(after.Status.PodIP, 8080, "/"); err != nil || body != "You've hit kubia-adopt\n" {
		t.Errorf("adopted pod answers %q %v", body, err)
	}
}

// TestConfigAndVolumes: environment from a config map, a secret and the
// downward API; config map and emptyDir volumes; an init container that
// must finish first.
func TestConfigAndVolumes(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()
	if _, err := n.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "fortune-config"},
		Data:       map[string]string{"sleep-interval": "25", "motd.txt": "hello from a config map\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data:       map[string][]byte{"password": []byte("s3cret")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := kubiaPod("configured",
		corev1.EnvVar{Name: "INTERVAL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "fortune-config"}, Key: "sleep-interval"}}},
		corev1.EnvVar{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		corev1.EnvVar{Name: "MY_POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		corev1.EnvVar{Name: "MESSAGE", Value: "every $(INTERVAL)s"},
	)
	// envFrom with a prefix, keys that are no shell names kept (upstream's
	// "consumable as environment variable names with various prefixes").
	pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{
		{Prefix: "1-", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "fortune-config"}}},
		{Prefix: "$_-", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
	}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "fortune-config"}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config", ReadOnly: true}, {Name: "scratch", MountPath: "/scratch"}}
	// The init container fails once (leaving a marker in the shared
	// emptyDir), is restarted, and then succeeds.
	initC := pod.Spec.Containers[0]
	initC.Name = "init"
	initC.Ports = nil
	initC.Env = []corev1.EnvVar{
		{Name: "KUBIA_CRASH_ONCE", Value: "/scratch/initialized"},
		{Name: "KUBIA_EXIT_AFTER", Value: "0s"}, {Name: "KUBIA_EXIT_CODE", Value: "0"},
	}
	initC.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	pod.Spec.InitContainers = []corev1.Container{initC}
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	n.create(pod)

	p := n.waitPod(pod.Name, 60*time.Second, "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	if len(p.Status.InitContainerStatuses) != 1 {
		t.Fatalf("init container statuses:\n%s", describe(p))
	}
	ics := p.Status.InitContainerStatuses[0]
	if term := ics.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" || ics.RestartCount != 1 {
		t.Errorf("init container: %+v", ics)
	}
	env := n.exec(p, "kubia", "/kubia", "env")
	for _, want := range []string{"INTERVAL=25\n", "PASSWORD=s3cret\n", "1-sleep-interval=25\n", "$_-password=s3cret\n", "MY_POD_IP=" + p.Status.PodIP + "\n", "MESSAGE=every 25s\n", "KUBERNETES_SERVICE_HOST="} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if got := n.exec(p, "kubia", "/kubia", "cat", "/etc/config/motd.txt", "/scratch/initialized"); got != "hello from a config map\ncrashed\n" {
		t.Errorf("volumes: %q", got)
	}
}

// TestOOMKilled: a container over its memory limit is killed by the kernel
// and reported as OOMKilled.
func TestOOMKilled(t *testing.T) {
	n := newTestNode(t, nil)
	// containerd 1.6 now and then loses the OOM event of a process that dies
	// at once and reports a plain 137 "Error" (seen about once in ten runs,
	// long after the agent's re-read following an exit). One fresh pod more
	// tells that apart from an agent that never reports OOMKilled.
	for attempt := 1; ; attempt++ {
		pod := kubiaPod(fmt.Sprintf("hog-%d", attempt), corev1.EnvVar{Name: "KUBIA_ALLOCATE_MB", Value: "256"})
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
		n.create(pod)
		p := n.waitPod(pod.Name, 60*time.Second, "Failed with its exit reason settled", func(p *corev1.Pod) bool {
			term := status(p, "kubia").State.Terminated
			if p.Status.Phase != corev1.PodFailed || term == nil {
				return false
			}
			return term.Reason == "OOMKilled" || time.Since(term.FinishedAt.Time) > 5*time.Second
		})
		term := status(p, "kubia").State.Terminated
		if term.ExitCode != 137 {
			t.Fatalf("killed for memory with exit code %d, want 137", term.ExitCode)
		}
		if term.Reason == "OOMKilled" {
			return
		}
		if attempt == 2 {
			t.Fatalf("reason %q twice in a row, want OOMKilled", term.Reason)
		}
		t.Logf("attempt %d: the runtime reported %q for exit 137 (lost OOM event); trying a fresh pod", attempt, term.Reason)
	}
}

// TestImagePullErrors: an image that is neither on the node nor pullable
// (no registry can be reached) gives ErrImagePull, then ImagePullBackOff;
// with policy Never, ErrImageNeverPull.
func TestImagePullErrors(t *testing.T) {
	n := newTestNode(t, nil)
	missing := kubiaPod("no-such-image")
	missing.Spec.Containers[0].Image = "registry.skiff.local/no-such-image:1"
	n.create(missing)
	never := kubiaPod("never-pull")
	never.Spec.Containers[0].Image = "registry.skiff.local/no-such-image:1"
	never.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	n.create(never)

	reasons := map[string]bool{}
	n.waitPod(missing.Name, 60*time.Second, "in ImagePullBackOff after ErrImagePull", func(p *corev1.Pod) bool {
		if w := status(p, "kubia").State.Waiting; w != nil {
			reasons[w.Reason] = true
		}
		return reasons["ErrImagePull"] && reasons["ImagePullBackOff"]
	})
	p := n.waitPod(never.Name, 30*time.Second, "ErrImageNeverPull", func(p *corev1.Pod) bool {
		w := status(p, "kubia").State.Waiting
		return w != nil && w.Reason == "ErrImageNeverPull"
	})
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", p.Status.Phase)
	}
}
