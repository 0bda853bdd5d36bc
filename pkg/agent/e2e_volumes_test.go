package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// TestVolumesAsUpstream: a memory emptyDir is a tmpfs; volume files belong to
// the pod's fsGroup with group read access; subPathExpr expands the
// container's environment and writes land in the volume; config map and
// downward API volumes follow changes while the pod runs; and nothing stays
// mounted once the pod is gone.
func TestVolumesAsUpstream(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()
	cms := n.client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"greeting": "hello", "one.txt": "first"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec"}, Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := kubiaPod("volumes", corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(1000)), FSGroup: ptr.To(int64(1234))}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("8Mi"))}}},
		{Name: "disk", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: ptr.To(int32(0o400))}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		}}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "mem", MountPath: "/mem"},
		{Name: "disk", MountPath: "/disk"},
		{Name: "disk", MountPath: "/logs", SubPathExpr: "$(POD_NAME)/logs"},
		{Name: "cfg", MountPath: "/cfg"},
		{Name: "cfg", MountPath: "/etc/one.txt", SubPath: "one.txt"},
		{Name: "sec", MountPath: "/sec"},
		{Name: "info", MountPath: "/info"},
	}
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Running", running)

	if got := n.exec(p, "kubia", "/kubia", "fstype", "/mem"); got != "tmpfs\n" {
		t.Errorf("memory emptyDir: file system %q, want tmpfs", got)
	}
	if got := n.exec(p, "kubia", "/kubia", "fstype", "/disk"); got == "tmpfs\n" && !onTmpfs(n.dataDir) {
		t.Errorf("default emptyDir is a tmpfs")
	}
	// defaultMode 0400 with an fsGroup: the group may read, as upstream.
	if got := n.exec(p, "kubia", "/kubia", "stat", "/sec/password"); got != "/sec/password -r--r----- 0 1234\n" {
		t.Errorf("secret file: %q", got)
	}
	if got := n.exec(p, "kubia", "/kubia", "cat", "/sec/password", "/etc/one.txt"); got != "s3cretfirst" {
		t.Errorf("secret and subPath file read as uid 1000: %q", got)
	}
	n.exec(p, "kubia", "/kubia", "write", "/logs/app.log", "written through the subPath")
	if got := n.exec(p, "kubia", "/kubia", "cat", "/disk/volumes/logs/app.log"); got != "written through the subPath" {
		t.Errorf("subPathExpr: %q", got)
	}
	if got := n.exec(p, "kubia", "/kubia", "cat", "/info/labels"); got != `app="volumes"` {
		t.Errorf("downward API labels: %q", got)
	}

	// Changes reach the running pod's files.
	patch := []byte(`{"metadata":{"labels":{"tier":"web"}}}`)
	if _, err := n.client.CoreV1().Pods("default").Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	n.eventually(30*time.Second, "the labels file to change", func() bool {
		return n.exec(p, "kubia", "/kubia", "cat", "/info/labels") == "app=\"volumes\"\ntier=\"web\""
	})
	cm, err := cms.Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{"greeting": "hello again", "one.txt": "second"}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.eventually(45*time.Second, "the config map file to change", func() bool {
		return n.exec(p, "kubia", "/kubia", "cat", "/cfg/greeting") == "hello again"
	})
	// A subPath shows the file as it was when the container started, as upstream.
	if got := n.exec(p, "kubia", "/kubia", "cat", "/etc/one.txt"); got != "first" {
		t.Errorf("subPath of a config map after an update: %q", got)
	}

	if err := n.client.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(1))}); err != nil {
		t.Fatal(err)
	}
	n.waitGone(pod.Name, 30*time.Second)
	n.eventually(10*time.Second, "the pod's mounts to go", func() bool { return len(mountsBelow(t, n.dataDir)) == 0 })
}

// TestSubPathCannotLeaveVolume: a subPath that is a link out of its volume
// (written there by an earlier container of the pod) fails the container's
// start with CreateContainerConfigError instead of exposing the node's files,
// and so does a subPathExpr that expands to an absolute path.
func TestSubPathCannotLeaveVolume(t *testing.T) {
	n := newTestNode(t, nil)
	pod := kubiaPod("escape")
	pod.Spec.Volumes = []corev1.Volume{{Name: "disk", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	initC := corev1.Container{Name: "link", Image: "luksa/kubia", ImagePullPolicy: corev1.PullIfNotPresent,
		Command:      []string{"/kubia", "symlink", "/etc", "/disk/evil"},
		VolumeMounts: []corev1.VolumeMount{{Name: "disk", MountPath: "/disk"}}}
	pod.Spec.InitContainers = []corev1.Container{initC}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "disk", MountPath: "/host-etc", SubPath: "evil"}}
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "refused with CreateContainerConfigError", func(p *corev1.Pod) bool {
		w := status(p, "kubia").State.Waiting
		return w != nil && w.Reason == "CreateContainerConfigError"
	})
	if msg := status(p, "kubia").State.Waiting.Message; !strings.Contains(msg, "leaves its volume") {
		t.Errorf("message: %q", msg)
	}

	abs := kubiaPod("absolute", corev1.EnvVar{Name: "DIR", Value: "/tmp"})
	abs.Spec.Volumes = pod.Spec.Volumes
	abs.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "disk", MountPath: "/logs", SubPathExpr: "$(DIR)"}}
	n.create(abs)
	p = n.waitPod(abs.Name, 60*time.Second, "refused with CreateContainerConfigError", func(p *corev1.Pod) bool {
		w := status(p, "kubia").State.Waiting
		return w != nil && w.Reason == "CreateContainerConfigError"
	})
	if msg := status(p, "kubia").State.Waiting.Message; !strings.Contains(msg, "must not be an absolute path") {
		t.Errorf("message: %q", msg)
	}
}

// eventually polls cond every half second until it holds, or fails the test.
func (n *testNode) eventually(timeout time.Duration, what string, cond func() bool) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			n.t.Fatalf("waited %s for %s", timeout, what)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// mountsBelow lists the mount points below dir.
func mountsBelow(t *testing.T, dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	return out
}

// onTmpfs is true when dir itself lives on a tmpfs (a test machine's /tmp).
func onTmpfs(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	best, fs := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 10 {
			continue
		}
		mp := fields[4]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			for i, f := range fields {
				if f == "-" && i+1 < len(fields) {
					best, fs = mp, fields[i+1]
				}
			}
		}
	}
	return fs == "tmpfs"
}

// TestSidecars: a restartable init container starts after the regular init
// container succeeded and before the app, keeps running beside it (ready,
// started), and is stopped once the app has exited for good, so that the pod
// succeeds; init container statuses read as upstream's.
func TestSidecars(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()
	pod := kubiaPod("sidecar")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	app := &pod.Spec.Containers[0]
	app.Env = []corev1.EnvVar{{Name: "KUBIA_EXIT_AFTER", Value: "6s"}, {Name: "KUBIA_EXIT_CODE", Value: "0"}}
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "setup", Image: "luksa/kubia", ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"/kubia", "hostname"}},
		{Name: "poller", Image: "luksa/kubia", ImagePullPolicy: corev1.PullIfNotPresent,
			Command:       []string{"/kubia", "poll", "http://127.0.0.1:8080/"},
			RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			StartupProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/kubia", "hostname"}}}, PeriodSeconds: 1},
		},
	}
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	var metrics bytes.Buffer
	if err := n.agent.WriteMetrics(ctx, &metrics); err != nil || !strings.Contains(metrics.String(), `kubelet_running_containers{container_state="running"} 2`) || !strings.Contains(metrics.String(), "kubelet_running_pods 1\n") {
		t.Errorf("metrics (%v):\n%s", err, metrics.String())
	}
	setup, poller := p.Status.InitContainerStatuses[0], p.Status.InitContainerStatuses[1]
	if setup.State.Terminated == nil || setup.State.Terminated.Reason != "Completed" || !setup.Ready {
		t.Errorf("regular init container: %+v", setup)
	}
	if poller.State.Running == nil || !poller.Ready || poller.Started == nil || !*poller.Started {
		t.Errorf("sidecar: %+v", poller)
	}
	if app := status(p, "kubia"); app.State.Running == nil || poller.State.Running.StartedAt.After(app.State.Running.StartedAt.Time) {
		t.Errorf("app container %+v started before the sidecar %+v", app.State, poller.State)
	}

	p = n.waitPod(pod.Name, 60*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if st := p.Status.InitContainerStatuses[1].State.Terminated; st == nil {
		t.Errorf("sidecar not stopped after the app: %+v", p.Status.InitContainerStatuses[1])
	}
	if logs := n.containerLog(p, "poller", 0); !strings.Contains(logs, "got=You've hit sidecar") {
		t.Errorf("the sidecar never reached the app:\n%s", logs)
	}
}

// TestActiveDeadline: a pod running past spec.activeDeadlineSeconds is
// stopped and fails with reason DeadlineExceeded.
func TestActiveDeadline(t *testing.T) {
	n := newTestNode(t, nil)
	pod := kubiaPod("deadline")
	pod.Spec.ActiveDeadlineSeconds = ptr.To(int64(3))
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "DeadlineExceeded" || p.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("reason %q, message %q", p.Status.Reason, p.Status.Message)
	}
	if st := status(p, "kubia").State.Terminated; st == nil {
		n.waitPod(pod.Name, 30*time.Second, "its container stopped", func(p *corev1.Pod) bool { return status(p, "kubia").State.Terminated != nil })
	}
}

// TestEphemeralContainer: an ephemeral container added through
// pods/ephemeralcontainers (what kubectl debug does) runs once in the pod,
// in its target's process namespace, and is reported in
// ephemeralContainerStatuses.
func TestEphemeralContainer(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()
	pod := kubiaPod("debugged")
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Running", running)
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: "luksa/kubia", ImagePullPolicy: corev1.PullIfNotPresent,
			Command:                  []string{"/kubia", "cat", "/proc/1/cmdline"},
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		},
		TargetContainerName: "kubia",
	}}
	if _, err := n.client.CoreV1().Pods("default").UpdateEphemeralContainers(ctx, pod.Name, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = n.waitPod(pod.Name, 60*time.Second, "the debugger finished", func(p *corev1.Pod) bool {
		return len(p.Status.EphemeralContainerStatuses) == 1 && p.Status.EphemeralContainerStatuses[0].State.Terminated != nil
	})
	if st := p.Status.EphemeralContainerStatuses[0]; st.Name != "debugger" || st.State.Terminated.ExitCode != 0 {
		t.Errorf("ephemeral container status: %+v", st)
	}
	// PID 1 in the target's namespace is the app, not the debugger.
	if logs := n.containerLog(p, "debugger", 0); !strings.Contains(logs, "/kubia") || strings.Contains(logs, "cat") {
		t.Errorf("debugger saw PID 1 as:\n%s", logs)
	}
	if !running(p) {
		t.Errorf("the pod stopped running:\n%s", describe(p))
	}
}

// TestResizeInPlace: a resize through pods/resize reaches the running
// container's cgroups without a restart, and the container's status reports
// the new resources; a resource whose resizePolicy is RestartContainer
// restarts the container instead.
func TestResizeInPlace(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()
	pod := kubiaPod("resized")
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	n.create(pod)
	p := n.waitPod(pod.Name, 60*time.Second, "Running", running)
	if st := status(p, "kubia"); st.Resources == nil || st.Resources.Limits.Memory().String() != "64Mi" || st.AllocatedResources.Cpu().String() != "100m" {
		t.Fatalf("status resources at start: %+v allocated %v", st.Resources, st.AllocatedResources)
	}
	memoryLimit := func() string {
		for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
			if out, err := n.tryExec(p, "kubia", "/kubia", "cat", f); err == nil {
				return strings.TrimSpace(out)
			}
		}
		return "?"
	}
	if got := memoryLimit(); got != "67108864" {
		t.Fatalf("memory limit in the container's cgroup: %s", got)
	}
	patch := []byte(`{"spec":{"containers":[{"name":"kubia","resources":{"requests":{"cpu":"150m","memory":"96Mi"},"limits":{"cpu":"300m","memory":"96Mi"}}}]}}`)
	if _, err := n.client.CoreV1().Pods("default").Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize"); err != nil {
		t.Fatal(err)
	}
	p = n.waitPod(pod.Name, 30*time.Second, "resized", func(p *corev1.Pod) bool {
		st := status(p, "kubia")
		return p.Status.ObservedGeneration == p.Generation && st.Resources != nil && st.Resources.Limits.Memory().String() == "96Mi"
	})
	if got := memoryLimit(); got != "100663296" {
		t.Errorf("memory limit after the resize: %s", got)
	}
	if st := status(p, "kubia"); st.RestartCount != 0 || st.AllocatedResources.Cpu().String() != "150m" {
		t.Errorf("after an in-place resize: restarts %d, allocated %v", st.RestartCount, st.AllocatedResources)
	}
}

// TestRuntimeClassHandler: a pod's RuntimeClass picks the CRI runtime
// handler its sandbox runs with; an unknown handler fails the sandbox with
// an event that names it, and the pod stays Pending.
func TestRuntimeClassHandler(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()
	for name, handler := range map[string]string{"runc": "runc", "missing": "no-such-handler"} {
		if _, err := n.client.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: handler}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	good := kubiaPod("with-runc")
	good.Spec.RuntimeClassName = ptr.To("runc")
	n.create(good)
	n.waitPod(good.Name, 60*time.Second, "Running", running)

	bad := kubiaPod("with-missing")
	bad.Spec.RuntimeClassName = ptr.To("missing")
	n.create(bad)
	n.eventually(30*time.Second, "a FailedCreatePodSandBox event naming the handler", func() bool {
		evs, err := n.client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=with-missing,reason=FailedCreatePodSandBox"})
		return err == nil && len(evs.Items) > 0 && strings.Contains(evs.Items[0].Message, "no-such-handler")
	})
	if p, err := n.client.CoreV1().Pods("default").Get(ctx, bad.Name, metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodPending {
		t.Errorf("pod with an unknown handler: %v %v", p.Status.Phase, err)
	}
}

// TestTokenFilePermissions: as upstream's "should set ownership and
// permission when RunAsUser or FsGroup is present", a projected service
// account token is 0600 and the runAsUser's, 0640 with the fsGroup when the
// pod has one too, and 0644 root's when the pod has neither.
func TestTokenFilePermissions(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()
	if _, err := n.client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		runAsUser, fsGroup *int64
		want               string
	}{
		{runAsUser: ptr.To(int64(1000)), want: "/test-volume/token -rw------- 1000 0\n"},
		{runAsUser: ptr.To(int64(1000)), fsGroup: ptr.To(int64(10000)), want: "/test-volume/token -rw-r----- 1000 10000\n"},
		{want: "/test-volume/token -rw-r--r-- 0 0\n"},
	} {
		pod := kubiaPod(fmt.Sprintf("token-perms-%d", i))
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: tc.runAsUser, FSGroup: tc.fsGroup}
		pod.Spec.Volumes = []corev1.Volume{{Name: "test-volume", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr.To(int32(0o644)),
			Sources:     []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To(int64(3600))}}},
		}}}}
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "test-volume", MountPath: "/test-volume", ReadOnly: true}}
		n.create(pod)
		p := n.waitPod(pod.Name, 60*time.Second, "Running", running)
		if got := n.exec(p, "kubia", "/kubia", "stat", "/test-volume/token"); got != tc.want {
			t.Errorf("runAsUser %v, fsGroup %v: %q, want %q", ptr.Deref(tc.runAsUser, -1), ptr.Deref(tc.fsGroup, -1), got, tc.want)
		}
		if err := n.client.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(1))}); err != nil {
			t.Fatal(err)
		}
		n.waitGone(pod.Name, 30*time.Second)
	}
}
