package agent

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func admitNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelOSStable: "linux", "disk": "ssd"}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("2"),
			corev1.ResourceMemory: resource.MustParse("1Gi"),
			corev1.ResourcePods:   resource.MustParse("3"),
		}},
	}
}

type admitPodOpt func(*corev1.Pod)

func admitPod(name string, opts ...admitPodOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withHostPort(ip string, proto corev1.Protocol, port int32) admitPodOpt {
	return func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 80, HostIP: ip, Protocol: proto, HostPort: port})
	}
}

func withRequests(cpu, mem string) admitPodOpt {
	return func(p *corev1.Pod) {
		rl := corev1.ResourceList{}
		if cpu != "" {
			rl[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			rl[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		p.Spec.Containers[0].Resources.Requests = rl
	}
}

const (
	msgPorts    = "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
	msgAffinity = "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
	msgTaint    = "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate"
)

func TestAdmissionFailures(t *testing.T) {
	sidecar := func(port int32) admitPodOpt {
		return func(p *corev1.Pod) {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{
				Name: "side", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Ports: []corev1.ContainerPort{{ContainerPort: 1, HostPort: port}},
			})
		}
	}
	affinity := func(op corev1.NodeSelectorOperator, values ...string) admitPodOpt {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: op, Values: values}},
				}}},
			}}
		}
	}
	noExecute := func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute}}
	}
	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		admitted   []*corev1.Pod
		node       func(*corev1.Node)
		wantReason string
		wantMsg    string
	}{
		{name: "empty node", pod: admitPod("p", withHostPort("", "", 8080))},
		{name: "same port TCP", pod: admitPod("p", withHostPort("", "", 8080)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("", corev1.ProtocolTCP, 8080))}, wantReason: "NodePorts", wantMsg: msgPorts},
		{name: "same port other protocol", pod: admitPod("p", withHostPort("", corev1.ProtocolUDP, 8080)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("", "", 8080))}},
		{name: "other port", pod: admitPod("p", withHostPort("", "", 8081)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("", "", 8080))}},
		{name: "different host IPs", pod: admitPod("p", withHostPort("127.0.0.1", "", 8080)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("127.0.0.2", "", 8080))}},
		{name: "same host IP", pod: admitPod("p", withHostPort("127.0.0.1", "", 8080)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("127.0.0.1", "", 8080))}, wantReason: "NodePorts", wantMsg: msgPorts},
		{name: "wildcard wanted, specific held", pod: admitPod("p", withHostPort("0.0.0.0", "", 8080)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("127.0.0.1", "", 8080))}, wantReason: "NodePorts", wantMsg: msgPorts},
		{name: "specific wanted, wildcard held", pod: admitPod("p", withHostPort("10.0.0.1", "", 8080)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("", "", 8080))}, wantReason: "NodePorts", wantMsg: msgPorts},
		{name: "sidecar holds its port", pod: admitPod("p", withHostPort("", "", 9000)),
			admitted: []*corev1.Pod{admitPod("o", sidecar(9000))}, wantReason: "NodePorts", wantMsg: msgPorts},
		{name: "node selector matches", pod: admitPod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} })},
		{name: "node selector does not match", pod: admitPod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "hdd"} }),
			wantReason: "NodeAffinity", wantMsg: msgAffinity},
		{name: "required affinity matches", pod: admitPod("p", affinity(corev1.NodeSelectorOpIn, "ssd", "nvme"))},
		{name: "required affinity does not match", pod: admitPod("p", affinity(corev1.NodeSelectorOpNotIn, "ssd")),
			wantReason: "NodeAffinity", wantMsg: msgAffinity},
		{name: "other node's name", pod: admitPod("p", func(p *corev1.Pod) { p.Spec.NodeName = "n2" }),
			wantReason: "NodeName", wantMsg: "Predicate NodeName failed: node(s) didn't match the requested node name"},
		{name: "untolerated NoExecute taint", pod: admitPod("p"), node: noExecute, wantReason: "TaintToleration", wantMsg: msgTaint},
		{name: "tolerated NoExecute taint", pod: admitPod("p", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoExecute}}
		}), node: noExecute},
		{name: "NoSchedule taint is the scheduler's business", pod: admitPod("p"), node: func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
		}},
		{name: "cpu fits", pod: admitPod("p", withRequests("1", "")), admitted: []*corev1.Pod{admitPod("o", withRequests("1", ""))}},
		{name: "out of cpu", pod: admitPod("p", withRequests("1500m", "")), admitted: []*corev1.Pod{admitPod("o", withRequests("1", ""))},
			wantReason: "OutOfcpu", wantMsg: "Node didn't have enough resource: cpu, requested: 1500, used: 1000, capacity: 2000"},
		{name: "out of memory", pod: admitPod("p", withRequests("", "1Gi")), admitted: []*corev1.Pod{admitPod("o", withRequests("", "1Mi"))},
			wantReason: "OutOfmemory", wantMsg: "Node didn't have enough resource: memory, requested: 1073741824, used: 1048576, capacity: 1073741824"},
		{name: "out of pods", pod: admitPod("p"), admitted: []*corev1.Pod{admitPod("a"), admitPod("b"), admitPod("c")},
			wantReason: "OutOfpods", wantMsg: "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"},
		{name: "out of hugepages", pod: admitPod("p", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"hugepages-2Mi": resource.MustParse("2Mi")}
		}), wantReason: "OutOfhugepages-2Mi", wantMsg: "Node didn't have enough resource: hugepages-2Mi, requested: 2097152, used: 0, capacity: 0"},
		{name: "an extended resource the node lacks is the cluster's", pod: admitPod("p", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
		})},
		{name: "resources come before ports", pod: admitPod("p", withRequests("3", ""), withHostPort("", "", 80)),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("", "", 80))}, wantReason: "OutOfcpu",
			wantMsg: "Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000"},
		{name: "affinity comes before ports", pod: admitPod("p", withHostPort("", "", 80), func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "hdd"} }),
			admitted: []*corev1.Pod{admitPod("o", withHostPort("", "", 80))}, wantReason: "NodeAffinity", wantMsg: msgAffinity},
		{name: "os label", pod: admitPod("p", func(p *corev1.Pod) { p.Labels = map[string]string{corev1.LabelOSStable: "windows"} }),
			wantReason: "PodOSSelectorNodeLabelDoesNotMatch", wantMsg: "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label"},
		{name: "os field", pod: admitPod("p", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} }),
			wantReason: "PodOSNotSupported", wantMsg: "Failed to admit pod as the OS field doesn't match node OS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := admitNode()
			if tc.node != nil {
				tc.node(node)
			}
			rs := admissionFailures(tc.pod, node, tc.admitted)
			var reason, msg string
			if len(rs) > 0 {
				reason, msg = rs[0].reason, rs[0].message
			}
			if reason != tc.wantReason || msg != tc.wantMsg {
				t.Errorf("got %q %q, want %q %q (all: %v)", reason, msg, tc.wantReason, tc.wantMsg, rs)
			}
		})
	}
}

// TestAdmitInCreationOrder: of the new pods the agent finds at start, the
// oldest wins a host port; pods already running are not admitted again but
// count, whatever their age; a finished pod holds nothing.
func TestAdmitInCreationOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	created := func(d time.Duration) admitPodOpt {
		return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(d)) }
	}
	// Running here, though created after the new pods: it holds its port.
	running := admitPod("running", created(8*time.Second), withHostPort("", "", 9001), func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &metav1.Time{Time: t0}
	})
	// A running pod the old agent admitted though it conflicts (say, the
	// node's labels changed): adopted as it is.
	adopted := admitPod("adopted", created(time.Second), withHostPort("", "", 9001), func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.StartTime = &metav1.Time{Time: t0}
	})
	// Its sandbox was there when the agent started, its status not posted
	// yet: adopted too.
	unposted := admitPod("unposted", created(7*time.Second), withHostPort("", "", 9001))
	first := admitPod("zz-first", created(2*time.Second), withHostPort("", "", 8080))
	second := admitPod("aa-second", created(3*time.Second), withHostPort("", "", 8080))
	clash := admitPod("clash", created(4*time.Second), withHostPort("", "", 9001))
	done := admitPod("done", created(5*time.Second), withHostPort("", "", 7000), func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })
	reuse := admitPod("reuse", created(6*time.Second), withHostPort("", "", 7000))

	a := newTestAgent(t)
	a.ranBefore = map[types.UID]bool{unposted.UID: true}
	a.registered = admitNode()
	a.registered.Status.Allocatable[corev1.ResourcePods] = resource.MustParse("110")
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	// The lister's order is not the creation order.
	for _, p := range []*corev1.Pod{reuse, second, clash, unposted, done, first, adopted, running} {
		_ = idx.Add(p)
	}
	a.pods = corelisters.NewPodLister(idx)
	// What admitWaiting does, without running the workers.
	pods, err := a.startOrder()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if a.newWorker(context.Background(), p) == nil {
			t.Fatalf("%s: no worker", p.Name)
		}
	}
	want := map[string]string{"unposted": "", "running": "", "adopted": "", "zz-first": "", "aa-second": "NodePorts", "clash": "NodePorts", "done": "", "reuse": ""}
	for _, p := range []*corev1.Pod{running, unposted, adopted, first, second, clash, done, reuse} {
		w := a.workers[p.UID]
		if w == nil {
			t.Errorf("%s: no worker", p.Name)
			continue
		}
		got := ""
		if w.rejected != nil {
			got = w.rejected.reason
		}
		if got != want[p.Name] {
			t.Errorf("%s: rejected %q, want %q", p.Name, got, want[p.Name])
		}
	}
}

// TestPostRejection: a refused pod's status is what a kubelet posts: Failed,
// the reason, "Pod was rejected: " and the message; the QoS class and a start
// time; none of the kubelet's conditions, others' conditions kept.
func TestPostRejection(t *testing.T) {
	pod := admitPod("p", withRequests("100m", ""))
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: "example.com/gate", Status: corev1.ConditionTrue},
	}}
	a := newTestAgent(t, pod)
	w := newPodWorker(a, pod)
	w.rejected = &rejection{"NodePorts", msgPorts}
	w.setPod(pod)
	w.postRejection(context.Background(), pod)
	got, err := a.client.CoreV1().Pods("ns").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status
	if st.Phase != corev1.PodFailed || st.Reason != "NodePorts" || st.Message != "Pod was rejected: "+msgPorts {
		t.Errorf("phase %s reason %q message %q", st.Phase, st.Reason, st.Message)
	}
	if st.QOSClass != corev1.PodQOSBurstable || st.StartTime == nil || len(st.ContainerStatuses) != 0 || st.PodIP != "" {
		t.Errorf("qos %q startTime %v containers %v podIP %q", st.QOSClass, st.StartTime, st.ContainerStatuses, st.PodIP)
	}
	if len(st.Conditions) != 1 || st.Conditions[0].Type != "example.com/gate" {
		t.Errorf("conditions %+v, want only the gate's", st.Conditions)
	}
	// Posted once: the worker's copy is the posted one, and posting again
	// sends nothing.
	cur, _ := w.snapshot()
	w.postRejection(context.Background(), cur)
	updates := 0
	for _, act := range a.client.(*fake.Clientset).Actions() {
		if act.GetVerb() == "update" && act.GetSubresource() == "status" {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("%d status updates, want 1", updates)
	}
}
