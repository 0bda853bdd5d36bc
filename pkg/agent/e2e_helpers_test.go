package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/agent/agenttest"
	"github.com/skiffhq/skiff/pkg/agent/cri"
	"github.com/skiffhq/skiff/test/harness"
)

const (
	testNodeName = "node-1"
	testNodeIP   = "10.250.0.1"
	testPodCIDR  = "10.42.7.0/24"
)

// testNode is a Skiff node for one test: an API server (no controllers) on
// loopback, and an agent whose containerd and pod network live in a network
// namespace the test created.
type testNode struct {
	t       testing.TB
	client  kubernetes.Interface
	ns      *agenttest.NetNS
	dataDir string
	cgroup  string
	opts    agent.Options

	agent  *agent.Agent
	cancel context.CancelFunc
	done   chan error
	cri    *cri.Client
}

// newTestNode starts a cluster and an agent. Everything is removed when the
// test ends, even when it fails.
func newTestNode(t testing.TB, tweak func(*agent.Options)) *testNode {
	t.Helper()
	agenttest.RequireRuntime(t)
	demo := agenttest.DemoImage(t)
	cluster := harness.StartCluster(t, harness.Options{DisableControllers: true})
	n := &testNode{t: t, client: cluster.Client, ns: agenttest.NewNetNS(t)}
	n.dataDir = agenttest.DataDir(t)
	n.cgroup = agenttest.CgroupRoot(t)
	agenttest.Purge(t, n.dataDir, n.cgroup)
	n.opts = agent.Options{
		NodeName:         testNodeName,
		NodeIP:           testNodeIP,
		DataDir:          n.dataDir,
		NetNS:            n.ns.Path,
		PodCIDR:          testPodCIDR,
		CgroupRoot:       n.cgroup,
		ImportImages:     []string{demo},
		BackOffBase:      time.Second,
		BackOffMax:       8 * time.Second,
		RelistPeriod:     200 * time.Millisecond,
		RemovePodsOnExit: true,
		Logger:           testLogger(t),
	}
	if tweak != nil {
		tweak(&n.opts)
	}
	n.start()
	t.Cleanup(func() { n.stop() })
	return n
}

// start runs a new agent with n.opts and waits until it is ready.
func (n *testNode) start() {
	t := n.t
	t.Helper()
	a, err := agent.New(n.client, n.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.agent, n.cancel, n.done = a, cancel, make(chan error, 1)
	go func() { n.done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-n.done:
		n.done <- err
		t.Fatalf("agent stopped before it was ready: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("agent not ready after 90s")
	}
	c, err := cri.Dial(a.RuntimeEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	n.cri = c
}

// stop stops the agent (and its containerd); with RemovePodsOnExit the pods
// go too.
func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	n.cri.Close()
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("agent: %v", err)
		}
	case <-time.After(2 * time.Minute):
		n.t.Errorf("agent did not stop within 2 minutes")
	}
}

func (n *testNode) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	n.t.Cleanup(cancel)
	return ctx
}

// kubiaPod is the seed's kubia-manual pod, bound to the test node, with the
// image the test imported.
func kubiaPod(name string, env ...corev1.EnvVar) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName:                      testNodeName,
			TerminationGracePeriodSeconds: ptr.To(int64(10)),
			Containers: []corev1.Container{{
				Name:            "kubia",
				Image:           "luksa/kubia",
				ImagePullPolicy: corev1.PullIfNotPresent,
				Ports:           []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:             env,
			}},
		},
	}
}

func (n *testNode) create(pod *corev1.Pod) *corev1.Pod {
	n.t.Helper()
	out, err := n.client.CoreV1().Pods(pod.Namespace).Create(n.ctx(), pod, metav1.CreateOptions{})
	if err != nil {
		n.t.Fatalf("creating pod %s: %v", pod.Name, err)
	}
	return out
}

// waitPod watches the pod until cond holds and returns it; it fails the test
// after timeout with the last state seen.
func (n *testNode) waitPod(name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pods := n.client.CoreV1().Pods("default")
	var last *corev1.Pod
	for ctx.Err() == nil {
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			continue
		}
		if len(list.Items) == 1 {
			last = &list.Items[0]
			if cond(last) {
				return last
			}
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: list.ResourceVersion})
		if err != nil {
			continue
		}
		// cond may depend on the time as well (a status settled for a
		// while): it is asked again every second, not only on changes.
		tick := time.NewTicker(time.Second)
	watch:
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					break watch
				}
				if p, ok := ev.Object.(*corev1.Pod); ok {
					last = p
				}
			case <-tick.C:
			}
			if last != nil && cond(last) {
				tick.Stop()
				w.Stop()
				return last
			}
		}
		tick.Stop()
	}
	n.t.Fatalf("pod %s: not %s after %s; last status:\n%s", name, what, timeout, describe(last))
	return nil
}

func (n *testNode) waitGone(name string, timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, err := n.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.t.Fatalf("pod %s still exists after %s", name, timeout)
}

func running(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describe(p *corev1.Pod) string {
	if p == nil {
		return "(never seen)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s podIP=%s\n", p.Status.Phase, p.Status.PodIP)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "  condition %s=%s %s %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "  container %s ready=%v restarts=%d state=%s last=%s id=%s\n", cs.Name, cs.Ready, cs.RestartCount, stateString(cs.State), stateString(cs.LastTerminationState), cs.ContainerID)
	}
	return b.String()
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Waiting != nil:
		return fmt.Sprintf("waiting(%s: %s)", s.Waiting.Reason, s.Waiting.Message)
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%d %s)", s.Terminated.ExitCode, s.Terminated.Reason)
	}
	return "-"
}

// get fetches http://ip:port/path from inside the node's network namespace,
// trying for a few seconds (a container is Running before its app listens).
func (n *testNode) get(ip string, port int, path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		body, err := n.ns.Get(ctx, "http://"+net.JoinHostPort(ip, fmt.Sprint(port))+path)
		if err == nil || ctx.Err() != nil {
			return body, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exec runs a command in the pod's container through the CRI.
func (n *testNode) exec(p *corev1.Pod, container string, cmd ...string) string {
	n.t.Helper()
	id := containerID(n.t, p, container)
	resp, err := n.cri.ExecSync(n.ctx(), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 10})
	if err != nil {
		n.t.Fatalf("exec %v: %v", cmd, err)
	}
	if resp.ExitCode != 0 {
		n.t.Fatalf("exec %v: exit %d: %s%s", cmd, resp.ExitCode, resp.Stdout, resp.Stderr)
	}
	return string(resp.Stdout)
}

// tryExec runs a command in the pod's container and returns its output, or
// an error when it could not run or exited non-zero.
func (n *testNode) tryExec(p *corev1.Pod, container string, cmd ...string) (string, error) {
	resp, err := n.cri.ExecSync(n.ctx(), &runtimeapi.ExecSyncRequest{ContainerId: containerID(n.t, p, container), Cmd: cmd, Timeout: 10})
	if err != nil {
		return "", err
	}
	if resp.ExitCode != 0 {
		return "", fmt.Errorf("exit %d: %s", resp.ExitCode, resp.Stderr)
	}
	return string(resp.Stdout), nil
}

func containerID(t testing.TB, p *corev1.Pod, container string) string {
	t.Helper()
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container {
			id, ok := strings.CutPrefix(cs.ContainerID, "containerd://")
			if !ok {
				t.Fatalf("container %s: containerID %q lacks the containerd:// prefix", container, cs.ContainerID)
			}
			return id
		}
	}
	t.Fatalf("pod %s has no status for container %s", p.Name, container)
	return ""
}

func status(p *corev1.Pod, container string) corev1.ContainerStatus {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container {
			return cs
		}
	}
	return corev1.ContainerStatus{}
}

// containerLog reads what the container wrote to its CRI log file.
func (n *testNode) containerLog(p *corev1.Pod, container string, restart int) string {
	b, _ := os.ReadFile(fmt.Sprintf("%s/agent/pods/%s_%s_%s/%s/%d.log", n.dataDir, p.Namespace, p.Name, p.UID, container, restart))
	return string(b)
}

// testLogger sends the agent's log to the test's output, until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

var _ io.Writer = (*testWriter)(nil)
