package nodelifecycle_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/nodeipam"
	"github.com/skiffhq/skiff/pkg/controller/nodelifecycle"
	"github.com/skiffhq/skiff/pkg/hollow"
	"github.com/skiffhq/skiff/test/harness"
)

const (
	grace   = 3 * time.Second
	monitor = 500 * time.Millisecond
)

// startControllers runs node IPAM and the node lifecycle controller until the
// test ends.
func startControllers(t *testing.T, client kubernetes.Interface, opts nodelifecycle.Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	ipam := nodeipam.New(client, factory, nodeipam.Options{})
	lifecycle := nodelifecycle.New(client, factory, opts)
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() { _ = ipam.Run(ctx) })
	wg.Go(func() {
		if err := lifecycle.Run(ctx); err != nil {
			t.Errorf("node lifecycle: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown() })
}

// startNode runs a hollow node until stop is called or the test ends.
func startNode(t *testing.T, client kubernetes.Interface, name string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := hollow.New(client, hollow.Options{Name: name, HeartbeatInterval: 200 * time.Millisecond})
	go n.Run(ctx)
	stop = func() { cancel(); <-n.Done() }
	t.Cleanup(stop)
	select {
	case <-n.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("hollow node %s not ready", name)
	}
	return stop
}

func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok && err == nil {
			return
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v (last error: %v)", what, d, lastErr)
}

func getNode(t *testing.T, client kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func getPod(t *testing.T, client kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	p, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func nodeCondition(n *corev1.Node, ct corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == ct {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func podReady(p *corev1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return ""
}

func findTaint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

func createPod(t *testing.T, client kubernetes.Interface, name, node string, tolerations ...corev1.Toleration) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:    node,
			Containers:  []corev1.Container{{Name: "kubia", Image: "luksa/kubia"}},
			Tolerations: tolerations,
		},
	}
	if _, err := client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// kubectlNodes is `kubectl get nodes` as name -> STATUS.
func kubectlNodes(t *testing.T, c *harness.Cluster) map[string]string {
	t.Helper()
	out := c.MustRun(t, harness.Kubectls(t)[0], "", "get", "nodes", "--no-headers")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			got[f[0]] = f[1]
		}
	}
	return got
}

func TestSilentNodeIsUnreachableAndItsPodsEvicted(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	bg := context.Background()
	startControllers(t, c.Client, nodelifecycle.Options{GracePeriod: grace, MonitorPeriod: monitor})
	stop1 := startNode(t, c.Client, "hollow-1")
	startNode(t, c.Client, "hollow-2")

	unreachable := func(secs int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(secs)}
	}
	createPod(t, c.Client, "short", "hollow-1", unreachable(2))
	createPod(t, c.Client, "patient", "hollow-1") // the API server's default: 300s
	for _, name := range []string{"short", "patient"} {
		eventually(t, 5*time.Second, name+" Running", func() (bool, error) {
			return getPod(t, c.Client, name).Status.Phase == corev1.PodRunning, nil
		})
	}
	if got := kubectlNodes(t, c); got["hollow-1"] != "Ready" || got["hollow-2"] != "Ready" {
		t.Fatalf("kubectl get nodes: %v", got)
	}

	// The node goes silent.
	stop1()
	stopped := time.Now()
	var node *corev1.Node
	eventually(t, grace+monitor+3*time.Second, "hollow-1 Ready=Unknown with the unreachable taints", func() (bool, error) {
		node = getNode(t, c.Client, "hollow-1")
		return nodeCondition(node, corev1.NodeReady).Status == corev1.ConditionUnknown &&
			findTaint(node, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) != nil, nil
	})
	tainted := time.Now()
	if since := time.Since(stopped); since < grace-time.Second {
		t.Errorf("marked unreachable %v after the node stopped, before the %v grace period", since, grace)
	}
	ready := nodeCondition(node, corev1.NodeReady)
	if ready.Reason != "NodeStatusUnknown" || ready.Message != "Kubelet stopped posting node status." {
		t.Errorf("Ready condition: %+v", ready)
	}
	for _, ct := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		if cond := nodeCondition(node, ct); cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown" {
			t.Errorf("%s condition: %+v", ct, cond)
		}
	}
	noExec := findTaint(node, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	if noExec.TimeAdded == nil || findTaint(node, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) == nil {
		t.Errorf("taints: %+v", node.Spec.Taints)
	}
	if p := getPod(t, c.Client, "short"); p.DeletionTimestamp != nil {
		t.Error("pod short was evicted at once, not after its 2s toleration")
	}
	if got := kubectlNodes(t, c); got["hollow-1"] != "NotReady" || got["hollow-2"] != "Ready" {
		t.Errorf("kubectl get nodes: %v", got)
	}

	// Its pods are not ready; the one tolerating the taint for 2s is evicted
	// 2s after the taint came, the other stays.
	eventually(t, 3*time.Second, "pod patient not ready", func() (bool, error) {
		return podReady(getPod(t, c.Client, "patient")) == corev1.ConditionFalse, nil
	})
	eventually(t, 5*time.Second, "pod short evicted", func() (bool, error) {
		return getPod(t, c.Client, "short").DeletionTimestamp != nil, nil
	})
	if after := time.Since(noExec.TimeAdded.Time); after < 2*time.Second {
		t.Errorf("pod short evicted %v after the taint was added", after)
	}
	if after := time.Since(tainted); after > 3*time.Second {
		t.Errorf("pod short evicted only %v after the taint was seen", after)
	}
	short := getPod(t, c.Client, "short")
	disrupted := false
	for _, cond := range short.Status.Conditions {
		disrupted = disrupted || cond.Type == corev1.DisruptionTarget && cond.Status == corev1.ConditionTrue && cond.Reason == "DeletionByTaintManager"
	}
	if !disrupted {
		t.Errorf("evicted pod has no DisruptionTarget condition: %+v", short.Status.Conditions)
	}
	eventually(t, 3*time.Second, "TaintManagerEviction event", func() (bool, error) {
		evs, err := c.Client.CoreV1().Events("default").List(bg, metav1.ListOptions{FieldSelector: "involvedObject.name=short,reason=TaintManagerEviction"})
		return err == nil && len(evs.Items) > 0 && evs.Items[0].Message == "Marking for deletion Pod default/short", err
	})
	if p := getPod(t, c.Client, "patient"); p.DeletionTimestamp != nil {
		t.Error("pod patient, tolerating the taint for 300s, was evicted")
	}

	// The node comes back: Ready again, taints gone, its pod ready again, and
	// it finishes the deletion of the evicted one.
	startNode(t, c.Client, "hollow-1")
	eventually(t, 5*time.Second, "hollow-1 Ready without taints", func() (bool, error) {
		n := getNode(t, c.Client, "hollow-1")
		return nodeCondition(n, corev1.NodeReady).Status == corev1.ConditionTrue && len(n.Spec.Taints) == 0, nil
	})
	eventually(t, 5*time.Second, "pod patient ready again", func() (bool, error) {
		return podReady(getPod(t, c.Client, "patient")) == corev1.ConditionTrue, nil
	})
	eventually(t, 5*time.Second, "pod short gone", func() (bool, error) {
		_, err := c.Client.CoreV1().Pods("default").Get(bg, "short", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if got := kubectlNodes(t, c); got["hollow-1"] != "Ready" {
		t.Errorf("kubectl get nodes: %v", got)
	}
}

// updateNodeStatus sets conditions on a node no agent runs, as its kubelet
// would, with a fresh heartbeat.
func updateNodeStatus(t *testing.T, client kubernetes.Interface, name string, conds map[corev1.NodeConditionType]corev1.ConditionStatus) {
	t.Helper()
	n := getNode(t, client, name)
	now := metav1.Now()
	n.Status.Conditions = nil
	for _, ct := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure} {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
			Type: ct, Status: conds[ct], Reason: "Test", LastHeartbeatTime: now, LastTransitionTime: now})
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestConditionTaintsAndForeignNoExecuteTaints(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	bg := context.Background()
	// A long grace period: the node here has no agent, the test speaks for it.
	startControllers(t, c.Client, nodelifecycle.Options{GracePeriod: time.Minute, StartupGracePeriod: time.Second, MonitorPeriod: monitor})
	if _, err := c.Client.CoreV1().Nodes().Create(bg, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "manual"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A node that never posted a status is Unknown after the startup grace period.
	eventually(t, 4*time.Second, "never-posted node Unknown", func() (bool, error) {
		n := getNode(t, c.Client, "manual")
		r := nodeCondition(n, corev1.NodeReady)
		return r.Status == corev1.ConditionUnknown && r.Reason == "NodeStatusNeverUpdated" && r.Message == "Kubelet never posted node status." &&
			findTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) != nil, nil
	})

	// Ready=False: not-ready taints instead of unreachable ones; memory pressure
	// adds its NoSchedule taint.
	updateNodeStatus(t, c.Client, "manual", map[corev1.NodeConditionType]corev1.ConditionStatus{
		corev1.NodeReady: corev1.ConditionFalse, corev1.NodeMemoryPressure: corev1.ConditionTrue})
	eventually(t, 3*time.Second, "not-ready and memory-pressure taints", func() (bool, error) {
		n := getNode(t, c.Client, "manual")
		return findTaint(n, corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute) != nil &&
			findTaint(n, corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule) != nil &&
			findTaint(n, corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule) != nil &&
			findTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) == nil, nil
	})

	// Healthy again, then cordoned and tainted by hand with kubectl.
	updateNodeStatus(t, c.Client, "manual", map[corev1.NodeConditionType]corev1.ConditionStatus{
		corev1.NodeReady: corev1.ConditionTrue, corev1.NodeMemoryPressure: corev1.ConditionFalse})
	eventually(t, 3*time.Second, "taints removed", func() (bool, error) {
		return len(getNode(t, c.Client, "manual").Spec.Taints) == 0, nil
	})
	createPod(t, c.Client, "intolerant", "manual")
	createPod(t, c.Client, "tolerant", "manual", corev1.Toleration{Key: "example.com/maintenance", Operator: corev1.TolerationOpExists})
	k := harness.Kubectls(t)[0]
	c.MustRun(t, k, "", "cordon", "manual")
	c.MustRun(t, k, "", "taint", "node", "manual", "example.com/maintenance=now:NoExecute")
	eventually(t, 3*time.Second, "pod without a toleration evicted", func() (bool, error) {
		return getPod(t, c.Client, "intolerant").DeletionTimestamp != nil, nil
	})
	n := getNode(t, c.Client, "manual")
	if findTaint(n, "example.com/maintenance", corev1.TaintEffectNoExecute) == nil || findTaint(n, corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule) == nil {
		t.Errorf("taints: %+v", n.Spec.Taints)
	}
	if p := getPod(t, c.Client, "tolerant"); p.DeletionTimestamp != nil {
		t.Error("a pod tolerating the taint was evicted")
	}
	c.MustRun(t, k, "", "uncordon", "manual")
	eventually(t, 3*time.Second, "unschedulable taint removed", func() (bool, error) {
		n := getNode(t, c.Client, "manual")
		return findTaint(n, corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule) == nil &&
			findTaint(n, "example.com/maintenance", corev1.TaintEffectNoExecute) != nil, nil
	})
}
