package agent_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/agent/agenttest"
)

// TestKubiaManual runs the seed's first pod: it gets an IP on the node's pod
// network, answers "You've hit kubia-manual" from the node, has its hostname
// and /etc/hosts, and reports upstream's status. The node registered itself.
func TestKubiaManual(t *testing.T) {
	n := newTestNode(t, nil)
	ctx := n.ctx()

	node, err := n.client.CoreV1().Nodes().Get(ctx, testNodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "containerd://1.") {
		t.Errorf("containerRuntimeVersion %q", node.Status.NodeInfo.ContainerRuntimeVersion)
	}
	if node.Status.NodeInfo.KubeletVersion != "v1.33.0+skiff" || node.Status.Allocatable.Pods().Value() != 110 || node.Status.Capacity.Cpu().Value() < 1 {
		t.Errorf("node info/capacity: %+v %v", node.Status.NodeInfo, node.Status.Capacity)
	}
	if node.Spec.PodCIDR != testPodCIDR {
		t.Errorf("node podCIDR %q, want %q", node.Spec.PodCIDR, testPodCIDR)
	}
	var readyCond *corev1.NodeCondition
	for i, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			readyCond = &node.Status.Conditions[i]
		}
	}
	if readyCond == nil || readyCond.Status != corev1.ConditionTrue || readyCond.Reason != "KubeletReady" {
		t.Errorf("node Ready condition: %+v", readyCond)
	}
	var lease *coordinationv1.Lease
	if lease, err = n.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, testNodeName, metav1.GetOptions{}); err != nil || lease.Spec.RenewTime == nil {
		t.Errorf("node lease: %v %+v", err, lease)
	}

	pod := n.create(kubiaPod("kubia-manual"))
	p := n.waitPod(pod.Name, 60*time.Second, "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	_, cidr, _ := net.ParseCIDR(testPodCIDR)
	if ip := net.ParseIP(p.Status.PodIP); ip == nil || !cidr.Contains(ip) {
		t.Fatalf("pod IP %q not in the node's pod CIDR %s", p.Status.PodIP, testPodCIDR)
	}
	if p.Status.HostIP != testNodeIP || p.Status.StartTime == nil || len(p.Status.PodIPs) != 1 {
		t.Errorf("hostIP %q startTime %v podIPs %v", p.Status.HostIP, p.Status.StartTime, p.Status.PodIPs)
	}
	cs := status(p, "kubia")
	if !cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 || cs.State.Running == nil || cs.ImageID == "" || !strings.Contains(cs.Image, "luksa/kubia") {
		t.Errorf("container status: %+v", cs)
	}
	wantConds := map[corev1.PodConditionType]bool{corev1.PodScheduled: true, corev1.PodInitialized: true, corev1.ContainersReady: true, corev1.PodReady: true, corev1.PodReadyToStartContainers: true}
	for _, c := range p.Status.Conditions {
		if wantConds[c.Type] && c.Status == corev1.ConditionTrue {
			delete(wantConds, c.Type)
		}
	}
	if len(wantConds) > 0 {
		t.Errorf("conditions not True: %v\n%s", wantConds, describe(p))
	}

	body, err := n.get(p.Status.PodIP, 8080, "/")
	if err != nil || body != "You've hit kubia-manual\n" {
		t.Fatalf("GET http://%s:8080/ from the node = %q, %v; want \"You've hit kubia-manual\\n\"", p.Status.PodIP, body, err)
	}
	if got := strings.TrimSpace(n.exec(p, "kubia", "/kubia", "hostname")); got != "kubia-manual" {
		t.Errorf("hostname in the container = %q", got)
	}
	hosts, _ := os.ReadFile(filepath.Join(n.dataDir, "agent", "pods", "default_kubia-manual_"+string(p.UID), "_hosts"))
	if !strings.Contains(string(hosts), p.Status.PodIP+"\tkubia-manual\n") || !strings.Contains(string(hosts), "127.0.0.1\tlocalhost") {
		t.Errorf("managed /etc/hosts:\n%s", hosts)
	}
	if log := n.containerLog(p, "kubia", 0); !strings.Contains(log, "Kubia server starting...") || !strings.Contains(log, "Received request from") {
		t.Errorf("container log:\n%s", log)
	}

	// A pod that runs steadily is not written again and again.
	time.Sleep(2 * time.Second)
	if again, err := n.client.CoreV1().Pods("default").Get(ctx, "kubia-manual", metav1.GetOptions{}); err != nil || again.ResourceVersion != p.ResourceVersion {
		t.Errorf("pod status rewritten while nothing changed:\nbefore %s\nafter  %s", describe(p), describe(again))
	}

	// What the streaming server asks of the agent.
	logPath, err := n.agent.ContainerLogPath("default", "kubia-manual", "kubia", false)
	if err != nil || !strings.HasPrefix(logPath, n.agent.PodLogDir()+"/default_kubia-manual_") {
		t.Errorf("ContainerLogPath = %q, %v", logPath, err)
	}
	if _, err := n.agent.ContainerLogPath("default", "kubia-manual", "kubia", true); err == nil || !strings.Contains(err.Error(), `previous terminated container "kubia" in pod "kubia-manual" not found`) {
		t.Errorf("ContainerLogPath(previous) error = %v", err)
	}
	if u, err := n.agent.ExecURL(ctx, "default", "kubia-manual", "kubia", []string{"/kubia", "hostname"}, false, true, true, false); err != nil || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("ExecURL = %q, %v", u, err)
	}
	if u, err := n.agent.PortForwardURL(ctx, "default", "kubia-manual", []int32{8080}); err != nil || !strings.Contains(u, "/portforward/") {
		t.Errorf("PortForwardURL = %q, %v", u, err)
	}

	// A hostPort answers on the node's addresses (the bridge's, here).
	hp := kubiaPod("kubia-hostport")
	hp.Spec.Containers[0].Ports[0].HostPort = 9080
	n.create(hp)
	n.waitPod(hp.Name, 60*time.Second, "Running", running)
	gateway := strings.TrimSuffix(testPodCIDR, "0/24") + "1"
	if body, err := n.get(gateway, 9080, "/"); err != nil || body != "You've hit kubia-hostport\n" {
		t.Errorf("GET http://%s:9080/ (hostPort) = %q, %v", gateway, body, err)
	}

	// A pod bound later, as the scheduler binds (pods/binding).
	unbound := kubiaPod("kubia-bound")
	unbound.Spec.NodeName = ""
	n.create(unbound)
	if err := n.client.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia-bound"},
		Target:     corev1.ObjectReference{Kind: "Node", Name: testNodeName},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitPod("kubia-bound", 60*time.Second, "Running", running)

	// The seed's manifest has no pull policy: Always, for an untagged
	// image. With no registry, the agent uses the imported copy.
	always := kubiaPod("kubia-always")
	always.Spec.Containers[0].ImagePullPolicy = ""
	n.create(always)
	p2 := n.waitPod("kubia-always", 60*time.Second, "Running", running)
	if pol := p2.Spec.Containers[0].ImagePullPolicy; pol != corev1.PullAlways {
		t.Errorf("defaulted pull policy %q, want Always", pol)
	}
}

// TestExternalRuntimeEndpoint: with --container-runtime-endpoint the agent
// uses a runtime it did not start.
func TestExternalRuntimeEndpoint(t *testing.T) {
	agenttest.RequireRuntime(t)
	ns := agenttest.NewNetNS(t)
	dir := agenttest.DataDir(t)
	cg := agenttest.CgroupRoot(t)
	rt := agenttest.StartContainerd(t, dir, ns, cg)
	agenttest.ImportDemo(t, rt)
	if err := agent.WriteCNIConfig(rt.Paths().CNIConfDir, filepath.Join(dir, "ipam"), testPodCIDR, 0); err != nil {
		t.Fatal(err)
	}
	n := newTestNode(t, func(o *agent.Options) {
		o.ContainerRuntimeEndpoint = rt.Endpoint()
		o.ImportImages = nil
		o.NetNS = ns.Path // where that runtime's pods are
	})
	n.ns = ns
	n.create(kubiaPod("kubia-external"))
	p := n.waitPod("kubia-external", 60*time.Second, "Running", running)
	if body, err := n.get(p.Status.PodIP, 8080, "/"); err != nil || body != "You've hit kubia-external\n" {
		t.Errorf("GET = %q, %v", body, err)
	}
}
