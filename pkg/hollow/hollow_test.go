package hollow_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/controller/nodeipam"
	"github.com/skiffhq/skiff/pkg/hollow"
	"github.com/skiffhq/skiff/test/harness"
)

// startCluster starts an API server with node IPAM, the one loop hollow nodes
// need, and returns a context that ends with the test.
func startCluster(t *testing.T) (*harness.Cluster, context.Context) {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	t.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown() })
	ipam := nodeipam.New(c.Client, factory, nodeipam.Options{})
	factory.Start(ctx.Done())
	wg.Go(func() {
		if err := ipam.Run(ctx); err != nil {
			t.Errorf("node IPAM: %v", err)
		}
	})
	return c, ctx
}

// runNode runs a hollow node until the test ends and waits until it is ready.
func runNode(t *testing.T, ctx context.Context, client kubernetes.Interface, opts hollow.Options) *hollow.Node {
	t.Helper()
	n := hollow.New(client, opts)
	ctx, cancel := context.WithCancel(ctx)
	go n.Run(ctx)
	t.Cleanup(func() { cancel(); <-n.Done() })
	select {
	case <-n.Ready():
	case <-n.Done():
		t.Fatalf("hollow node %s stopped: %v", opts.Name, n.Err())
	case <-time.After(10 * time.Second):
		t.Fatalf("hollow node %s not ready after 10s", opts.Name)
	}
	return n
}

// eventually polls cond every 20ms until it holds, failing after d.
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

func pod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "kubia"}},
		Spec: corev1.PodSpec{
			NodeName:       node,
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "kubia", Image: "luksa/kubia"}, {Name: "side", Image: "busybox"}},
		},
	}
}

func waitRunning(t *testing.T, client kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	eventually(t, 5*time.Second, "pod "+name+" Running", func() (bool, error) {
		var err error
		p, err = client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	return p
}

func TestHollowNodeRegistersAndRunsPods(t *testing.T) {
	c, ctx := startCluster(t)
	bg := context.Background()
	runNode(t, ctx, c.Client, hollow.Options{Name: "hollow-1", HeartbeatInterval: 100 * time.Millisecond, Labels: map[string]string{"zone": "a"}})

	// The Node, as registered.
	var node *corev1.Node
	eventually(t, 5*time.Second, "podCIDR assigned", func() (bool, error) {
		var err error
		node, err = c.Client.CoreV1().Nodes().Get(bg, "hollow-1", metav1.GetOptions{})
		return err == nil && node.Spec.PodCIDR != "", err
	})
	for k, v := range map[string]string{
		"kubernetes.io/hostname": "hollow-1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"node.kubernetes.io/instance-type": "hollow", "zone": "a",
	} {
		if node.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	conds := map[corev1.NodeConditionType]corev1.NodeCondition{}
	for _, cond := range node.Status.Conditions {
		conds[cond.Type] = cond
	}
	if r := conds[corev1.NodeReady]; r.Status != corev1.ConditionTrue || r.Reason != "KubeletReady" || r.Message != "kubelet is posting ready status" {
		t.Errorf("Ready condition: %+v", r)
	}
	for _, ct := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		if conds[ct].Status != corev1.ConditionFalse {
			t.Errorf("%s condition: %+v", ct, conds[ct])
		}
	}
	if got := node.Status.Capacity; got.Cpu().String() != "4" || got.Memory().String() != "16Gi" || got.Pods().String() != "110" {
		t.Errorf("capacity: %v", got)
	}
	if a := node.Status.Addresses; len(a) != 2 || a[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.255.0.1"}) ||
		a[1] != (corev1.NodeAddress{Type: corev1.NodeHostName, Address: "hollow-1"}) {
		t.Errorf("addresses: %v", a)
	}
	if info := node.Status.NodeInfo; info.KubeletVersion != "v1.33.0+skiff" || info.ContainerRuntimeVersion != "hollow://1.0" ||
		info.OSImage != "Skiff hollow node" || info.OperatingSystem != "linux" || info.Architecture != "amd64" {
		t.Errorf("nodeInfo: %+v", info)
	}
	cidr := netip.MustParsePrefix(node.Spec.PodCIDR)

	// The Lease, renewed every heartbeat.
	lease, err := c.Client.CoordinationV1().Leases("kube-node-lease").Get(bg, "hollow-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "hollow-1" || *lease.Spec.LeaseDurationSeconds != 40 ||
		len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].UID != node.UID {
		t.Errorf("lease: %+v %+v", lease.Spec, lease.OwnerReferences)
	}
	first := lease.Spec.RenewTime.Time
	eventually(t, 3*time.Second, "lease renewed", func() (bool, error) {
		l, err := c.Client.CoordinationV1().Leases("kube-node-lease").Get(bg, "hollow-1", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first), err
	})

	// A pod for another node is never touched.
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, pod("elsewhere", "hollow-99"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A pod created bound, and one bound through pods/binding, both run.
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, pod("direct", "hollow-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, pod("bound", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = c.Client.CoreV1().Pods("default").Bind(bg, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: "default"},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "hollow-1"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	direct, bound := waitRunning(t, c.Client, "direct"), waitRunning(t, c.Client, "bound")
	for _, p := range []*corev1.Pod{direct, bound} {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !cidr.Contains(ip) || ip == cidr.Addr() || ip == cidr.Addr().Next() {
			t.Errorf("pod %s IP %q not a pod address of %s", p.Name, p.Status.PodIP, cidr)
		}
		if len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != p.Status.PodIP || p.Status.HostIP != "10.255.0.1" || p.Status.StartTime == nil {
			t.Errorf("pod %s status: %+v", p.Name, p.Status)
		}
		want := map[corev1.PodConditionType]bool{corev1.PodScheduled: true, corev1.PodInitialized: true, corev1.ContainersReady: true, corev1.PodReady: true}
		for _, cond := range p.Status.Conditions {
			if want[cond.Type] && cond.Status == corev1.ConditionTrue {
				delete(want, cond.Type)
			}
		}
		if len(want) > 0 {
			t.Errorf("pod %s lacks true conditions %v: %+v", p.Name, want, p.Status.Conditions)
		}
		if len(p.Status.ContainerStatuses) != 2 || len(p.Status.InitContainerStatuses) != 1 {
			t.Fatalf("pod %s container statuses: %+v", p.Name, p.Status)
		}
		for i, cs := range p.Status.ContainerStatuses {
			if cs.Name != p.Spec.Containers[i].Name || !cs.Ready || cs.Started == nil || !*cs.Started || cs.State.Running == nil ||
				cs.Image != p.Spec.Containers[i].Image || cs.ImageID != "hollow://"+cs.Image ||
				!strings.HasPrefix(cs.ContainerID, "hollow://") || cs.RestartCount != 0 {
				t.Errorf("pod %s container status %+v", p.Name, cs)
			}
		}
		if ics := p.Status.InitContainerStatuses[0]; ics.State.Terminated == nil || ics.State.Terminated.Reason != "Completed" {
			t.Errorf("pod %s init container status %+v", p.Name, ics)
		}
	}
	if direct.Status.PodIP == bound.Status.PodIP {
		t.Errorf("both pods got %s", direct.Status.PodIP)
	}
	other, err := c.Client.CoreV1().Pods("default").Get(bg, "elsewhere", metav1.GetOptions{})
	if err != nil || other.Status.Phase != corev1.PodPending || other.Status.PodIP != "" {
		t.Errorf("a pod of another node was touched: %+v, %v", other.Status, err)
	}

	// Deleting a pod: it is first marked (grace 30s), then the node finishes the
	// deletion at once.
	w, err := c.Client.CoreV1().Pods("default").Watch(bg, metav1.ListOptions{
		FieldSelector: "metadata.name=direct", ResourceVersion: direct.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := c.Client.CoreV1().Pods("default").Delete(bg, "direct", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	marked := false
	timeout := time.After(5 * time.Second)
	for deleted := false; !deleted; {
		select {
		case ev := <-w.ResultChan():
			p, _ := ev.Object.(*corev1.Pod)
			switch {
			case ev.Type == watch.Modified && p.DeletionTimestamp != nil:
				marked = marked || *p.DeletionGracePeriodSeconds == 30
			case ev.Type == watch.Deleted:
				deleted = true
			}
		case <-timeout:
			t.Fatal("pod not deleted within 5s")
		}
	}
	if !marked {
		t.Error("the pod was not first marked for deletion with a 30s grace period")
	}

	// kubectl waits for the deletion, which the node finishes.
	k := harness.Kubectls(t)[0]
	start := time.Now()
	out := c.MustRun(t, k, "", "delete", "pod", "bound")
	if !strings.Contains(out, `pod "bound" deleted`) || time.Since(start) > 10*time.Second {
		t.Errorf("kubectl delete took %v: %s", time.Since(start), out)
	}
	if _, err := c.Client.CoreV1().Pods("default").Get(bg, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod bound still there: %v", err)
	}

	// A new pod gets the next address, not a recently freed one.
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, pod("third", "hollow-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	third := waitRunning(t, c.Client, "third")
	if third.Status.PodIP == direct.Status.PodIP || third.Status.PodIP == bound.Status.PodIP {
		t.Errorf("new pod reused %s", third.Status.PodIP)
	}
}

func TestPodsWaitForPodCIDRAndKeepIPsAcrossRestart(t *testing.T) {
	// No IPAM here: the node has no podCIDR until the test gives it one.
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	bg := context.Background()
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	n := runNode(t, ctx, c.Client, hollow.Options{Name: "hollow-7"})
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, pod("early", "hollow-7"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := pod("host", "hollow-7")
	host.Spec.HostNetwork = true
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, host, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A host-network pod needs no podCIDR.
	if p := waitRunning(t, c.Client, "host"); p.Status.PodIP != "10.255.0.7" {
		t.Errorf("host-network pod IP %q, want the node's", p.Status.PodIP)
	}
	if p, _ := c.Client.CoreV1().Pods("default").Get(bg, "early", metav1.GetOptions{}); p.Status.Phase != corev1.PodPending {
		t.Errorf("pod ran before the node had a podCIDR: %+v", p.Status)
	}
	patch := []byte(`{"spec":{"podCIDR":"10.42.9.0/24","podCIDRs":["10.42.9.0/24"]}}`)
	if _, err := c.Client.CoreV1().Nodes().Patch(bg, "hollow-7", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	early := waitRunning(t, c.Client, "early")
	if early.Status.PodIP != "10.42.9.2" {
		t.Errorf("first pod IP %q, want 10.42.9.2", early.Status.PodIP)
	}

	// The same node, run again, keeps its pods' addresses and hands out new ones.
	cancel()
	<-n.Done()
	ctx2, cancel2 := context.WithCancel(bg)
	defer cancel2()
	runNode(t, ctx2, c.Client, hollow.Options{Name: "hollow-7"})
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, pod("late", "hollow-7"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	late := waitRunning(t, c.Client, "late")
	if late.Status.PodIP == early.Status.PodIP {
		t.Errorf("restarted node gave %s twice", late.Status.PodIP)
	}
	again, _ := c.Client.CoreV1().Pods("default").Get(bg, "early", metav1.GetOptions{})
	if again.Status.PodIP != early.Status.PodIP || again.Status.ContainerStatuses[0].ContainerID != early.Status.ContainerStatuses[0].ContainerID {
		t.Errorf("restart changed the first pod: %+v", again.Status)
	}
}

func TestStartNGivesDistinctPodCIDRs(t *testing.T) {
	c, ctx := startCluster(t)
	bg := context.Background()
	ctx, cancel := context.WithCancel(ctx)
	nodes, err := hollow.StartN(ctx, c.Client, 3, hollow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		for _, n := range nodes {
			<-n.Done()
		}
	})
	cluster := netip.MustParsePrefix("10.42.0.0/16")
	eventually(t, 5*time.Second, "three distinct /24s", func() (bool, error) {
		list, err := c.Client.CoreV1().Nodes().List(bg, metav1.ListOptions{})
		if err != nil || len(list.Items) != 3 {
			return false, err
		}
		seen := map[string]bool{}
		for _, n := range list.Items {
			p, err := netip.ParsePrefix(n.Spec.PodCIDR)
			if err != nil || p.Bits() != 24 || !cluster.Overlaps(p) || seen[p.String()] {
				return false, err
			}
			seen[p.String()] = true
		}
		return true, nil
	})
	out := c.MustRun(t, harness.Kubectls(t)[0], "", "get", "nodes", "--no-headers")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("kubectl get nodes:\n%s", out)
	}
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != "hollow-"+string(rune('1'+i)) || f[1] != "Ready" || f[2] != "<none>" || f[4] != "v1.33.0+skiff" {
			t.Errorf("kubectl get nodes line %q", line)
		}
	}
}

func TestDeletedNodeRegistersAgain(t *testing.T) {
	c, ctx := startCluster(t)
	bg := context.Background()
	runNode(t, ctx, c.Client, hollow.Options{Name: "hollow-3"})
	old, err := c.Client.CoreV1().Nodes().Get(bg, "hollow-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Client.CoreV1().Nodes().Delete(bg, "hollow-3", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "hollow-3 registered again with a podCIDR", func() (bool, error) {
		n, err := c.Client.CoreV1().Nodes().Get(bg, "hollow-3", metav1.GetOptions{})
		return err == nil && n.UID != old.UID && n.Spec.PodCIDR != "" && len(n.Status.Conditions) > 0, nil
	})
	if _, err := c.Client.CoreV1().Pods("default").Create(bg, pod("after", "hollow-3"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitRunning(t, c.Client, "after")
	n, _ := c.Client.CoreV1().Nodes().Get(bg, "hollow-3", metav1.GetOptions{})
	if !netip.MustParsePrefix(n.Spec.PodCIDR).Contains(netip.MustParseAddr(p.Status.PodIP)) {
		t.Errorf("pod IP %s outside the new podCIDR %s", p.Status.PodIP, n.Spec.PodCIDR)
	}
}
