package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestTolerates(t *testing.T) {
	taint := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	cases := []struct {
		name string
		tol  corev1.Toleration
		want bool
	}{
		{"equal", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}, true},
		{"empty operator means equal", corev1.Toleration{Key: "dedicated", Value: "gpu"}, true},
		{"other value", corev1.Toleration{Key: "dedicated", Value: "cpu"}, false},
		{"exists", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists}, true},
		{"exists everything", corev1.Toleration{Operator: corev1.TolerationOpExists}, true},
		{"other effect", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}, false},
		{"other key", corev1.Toleration{Key: "zone", Operator: corev1.TolerationOpExists}, false},
		{"seconds do not matter", corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, TolerationSeconds: ptr.To(int64(0))}, true},
	}
	for _, c := range cases {
		if got := tolerates(&c.tol, &taint); got != c.want {
			t.Errorf("%s: tolerates = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNodeSelectorTerms(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a", "gen": "5"}}}
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	cases := []struct {
		name string
		term corev1.NodeSelectorTerm
		want bool
	}{
		{"empty term matches nothing", corev1.NodeSelectorTerm{}, false},
		{"in", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", "In", "a", "b")}}, true},
		{"in missing", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("rack", "In", "a")}}, false},
		{"notin missing label", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("rack", "NotIn", "a")}}, true},
		{"notin", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", "NotIn", "a")}}, false},
		{"exists", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", "Exists")}}, true},
		{"does not exist", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", "DoesNotExist")}}, false},
		{"gt", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", "Gt", "4")}}, true},
		{"gt equal", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", "Gt", "5")}}, false},
		{"lt", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", "Lt", "6")}}, true},
		{"gt not a number", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", "Gt", "1")}}, false},
		{"gt bad value", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("gen", "Gt", "x")}}, false},
		{"in without values", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", "In")}}, false},
		{"unknown operator", corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", "Like", "a")}}, false},
		{"field name", corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", "In", "n1")}}, true},
		{"field name notin", corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", "NotIn", "n1")}}, false},
		{"other field", corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.uid", "In", "n1")}}, false},
		{"and", corev1.NodeSelectorTerm{
			MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", "In", "a"), req("gen", "Lt", "3")},
		}, false},
	}
	for _, c := range cases {
		term := parseTerm(&c.term)
		if got := term.matches(node); got != c.want {
			t.Errorf("%s: matches = %v, want %v", c.name, got, c.want)
		}
	}
}

func container(cpu, mem string) corev1.Container {
	rl := corev1.ResourceList{}
	if cpu != "" {
		rl[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		rl[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return corev1.Container{Resources: corev1.ResourceRequirements{Requests: rl}}
}

func TestPodRequests(t *testing.T) {
	sidecar := func(c corev1.Container) corev1.Container {
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		return c
	}
	cases := []struct {
		name             string
		spec             corev1.PodSpec
		cpu, mem         int64
		nonzeroCPU, nzMe int64
	}{
		{"containers add up", corev1.PodSpec{Containers: []corev1.Container{container("100m", "1Mi"), container("200m", "")}},
			300, 1 << 20, 300, 1<<20 + defaultMemoryRequest},
		{"best effort", corev1.PodSpec{Containers: []corev1.Container{container("", "")}},
			0, 0, defaultMilliCPURequest, defaultMemoryRequest},
		{"init container larger", corev1.PodSpec{
			InitContainers: []corev1.Container{container("2", "10Mi")},
			Containers:     []corev1.Container{container("500m", "20Mi")}},
			2000, 20 << 20, 2000, 20 << 20},
		{"sidecar runs beside everything", corev1.PodSpec{
			InitContainers: []corev1.Container{sidecar(container("1", "")), container("1500m", "")},
			Containers:     []corev1.Container{container("1", "")}},
			2500, 0, 2500, 2 * defaultMemoryRequest},
		{"overhead", corev1.PodSpec{
			Containers: []corev1.Container{container("1", "1Gi")},
			Overhead:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
			1250, 1 << 30, 1250, 1 << 30},
		{"pod-level requests", corev1.PodSpec{
			Containers: []corev1.Container{container("1", "1Gi")},
			Resources:  &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}},
			3000, 1 << 30, 3000, 1 << 30},
	}
	for _, c := range cases {
		req, nz := podRequests(&c.spec)
		if req.milliCPU != c.cpu || req.memory != c.mem || nz.milliCPU != c.nonzeroCPU || nz.memory != c.nzMe {
			t.Errorf("%s: requests cpu=%d mem=%d nonzero cpu=%d mem=%d, want %d %d %d %d", c.name,
				req.milliCPU, req.memory, nz.milliCPU, nz.memory, c.cpu, c.mem, c.nonzeroCPU, c.nzMe)
		}
	}
}

func testNode(name string, cpu, mem string, pods int64) *nodeInfo {
	n := newNodeInfo(name)
	rl := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
		"example.com/gpu":     resource.MustParse("1"),
	}
	n.setNode(&corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Allocatable: rl, Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	})
	return n
}

func testPod(name string, c corev1.Container, opts ...func(*corev1.Pod)) *podInfo {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
	for _, o := range opts {
		o(p)
	}
	return newPodInfo(p)
}

func TestFitsResources(t *testing.T) {
	n := testNode("n", "2", "1Gi", 2)
	n.addPod(testPod("a", container("1500m", "")), +1)

	cases := []struct {
		name string
		pod  *podInfo
		want []string
	}{
		{"fits", testPod("p", container("500m", "1Gi")), nil},
		{"zero request fits a full node", testPod("p", container("", "")), nil},
		{"cpu", testPod("p", container("600m", "")), []string{"Insufficient cpu"}},
		{"cpu and memory", testPod("p", container("3", "2Gi")), []string{"Insufficient cpu", "Insufficient memory"}},
		{"extended", testPod("p", corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			"example.com/gpu": resource.MustParse("2")}}}), []string{"Insufficient example.com/gpu"}},
	}
	for _, c := range cases {
		var why []string
		ok := fitsResources(c.pod, n, &why)
		if ok != (c.want == nil) || len(why) != len(c.want) {
			t.Errorf("%s: fits=%v reasons=%q, want %q", c.name, ok, why, c.want)
			continue
		}
		for i := range why {
			if why[i] != c.want[i] {
				t.Errorf("%s: reasons=%q, want %q", c.name, why, c.want)
			}
		}
		if fitsResources(c.pod, n, nil) != ok {
			t.Errorf("%s: the quick check disagrees with the explained one", c.name)
		}
	}

	n.addPod(testPod("b", container("", "")), +1)
	var why []string
	if fitsResources(testPod("p", container("", "")), n, &why) || len(why) != 1 || why[0] != "Too many pods" {
		t.Errorf("full node: reasons %q, want Too many pods", why)
	}
	n.addPod(testPod("b", container("", "")), -1)
	n.addPod(testPod("a", container("1500m", "")), -1)
	if n.requested.milliCPU != 0 || n.pods != 0 || len(n.priorities) != 0 {
		t.Errorf("after removing every pod: %+v", n)
	}
}

func TestHostPortConflicts(t *testing.T) {
	port := func(ip string, proto corev1.Protocol, p int32) func(*corev1.Pod) {
		return func(pod *corev1.Pod) {
			pod.Spec.Containers[0].Ports = append(pod.Spec.Containers[0].Ports, corev1.ContainerPort{HostIP: ip, Protocol: proto, HostPort: p, ContainerPort: 1})
		}
	}
	n := testNode("n", "4", "4Gi", 10)
	n.addPod(testPod("a", container("", ""), port("10.0.0.1", "", 80)), +1)
	cases := []struct {
		name string
		pod  *podInfo
		want bool
	}{
		{"same ip", testPod("p", container("", ""), port("10.0.0.1", corev1.ProtocolTCP, 80)), true},
		{"any ip", testPod("p", container("", ""), port("", "", 80)), true},
		{"other ip", testPod("p", container("", ""), port("10.0.0.2", "", 80)), false},
		{"other protocol", testPod("p", container("", ""), port("10.0.0.1", corev1.ProtocolUDP, 80)), false},
		{"other port", testPod("p", container("", ""), port("10.0.0.1", "", 81)), false},
		{"container port only", testPod("p", container("", ""), port("", "", 0)), false},
	}
	for _, c := range cases {
		if got := n.portsConflict(c.pod.ports); got != c.want {
			t.Errorf("%s: conflict = %v, want %v", c.name, got, c.want)
		}
	}
	n.addPod(testPod("b", container("", ""), port("", "", 443)), +1)
	if !n.portsConflict(testPod("p", container("", ""), port("10.0.0.9", "", 443)).ports) {
		t.Error("a pod on 0.0.0.0:443 must block every IP's 443")
	}
}

func TestFilterOrderAndReadiness(t *testing.T) {
	n := testNode("n", "4", "4Gi", 10)
	node := n.node.DeepCopy()
	node.Spec.Unschedulable = true
	node.Spec.Taints = []corev1.Taint{{Key: "k", Value: "v", Effect: corev1.TaintEffectNoExecute}, {Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}}
	node.Status.Conditions[0].Status = corev1.ConditionFalse
	n.setNode(node)

	pod := testPod("p", container("", ""))
	var why []string
	if ok, resolvable := fits(pod, n, &why); ok || resolvable || len(why) != 1 || why[0] != "node(s) were unschedulable" {
		t.Fatalf("cordoned node: ok=%v resolvable=%v reasons=%q", ok, resolvable, why)
	}
	tolerate := func(key string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
		}
	}
	steps := []struct {
		tolerations []string
		want        string
	}{
		{[]string{taintUnschedulable}, "node(s) had untolerated taint {k: v}"},
		{[]string{taintUnschedulable, "k"}, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
	}
	for _, s := range steps {
		var opts []func(*corev1.Pod)
		for _, k := range s.tolerations {
			opts = append(opts, tolerate(k))
		}
		why = nil
		if ok, _ := fits(testPod("p", container("", ""), opts...), n, &why); ok || len(why) != 1 || why[0] != s.want {
			t.Errorf("tolerating %v: reasons %q, want %q", s.tolerations, why, s.want)
		}
	}
	if ok, _ := fits(testPod("p", container("", ""), tolerate(taintUnschedulable), tolerate("k"), tolerate(taintNotReady)), n, nil); !ok {
		t.Error("a pod tolerating every taint must fit")
	}

	node.Status.Conditions = nil
	n.setNode(node)
	if n.taints[len(n.taints)-1].Key != taintNotReady {
		t.Errorf("a node that never reported Ready must count as not ready: %v", n.taints)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}
	n.setNode(node)
	if n.taints[len(n.taints)-1].Key != taintUnreachable {
		t.Errorf("a node whose Ready is Unknown must count as unreachable: %v", n.taints)
	}
	if len(n.preferNoSched) != 1 {
		t.Errorf("PreferNoSchedule taints: %v", n.preferNoSched)
	}
}

func TestFitErrorMessage(t *testing.T) {
	low := testNode("low", "1", "1Gi", 10)
	low.addPod(testPod("victim", container("1", ""), func(p *corev1.Pod) { p.Spec.Priority = ptr.To(int32(-5)) }), +1)
	plain := testNode("plain", "1", "1Gi", 10)
	pod := testPod("p", container("2", ""))
	verdicts := []nodeVerdict{
		{reasons: []string{"node(s) didn't match Pod's node affinity/selector"}, node: plain},
		{reasons: []string{"node(s) didn't match Pod's node affinity/selector"}, node: plain},
		{reasons: []string{"Insufficient cpu"}, resolvable: true, node: plain},
		{reasons: []string{"Insufficient cpu"}, resolvable: true, node: low},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
		{reasons: []string{"node(s) had untolerated taint {a: }"}, node: plain},
	}
	// Sorted as strings, counts included: "10 ..." comes before "2 ...".
	want := "0/14 nodes are available: 10 node(s) had untolerated taint {a: }, 2 Insufficient cpu, " +
		"2 node(s) didn't match Pod's node affinity/selector. preemption: 0/14 nodes are available: " +
		"1 Insufficient cpu, 1 No preemption victims found for incoming pod, 12 Preemption is not helpful for scheduling."
	if got := fitErrorMessage(verdicts, preemptionMessage(pod, verdicts)); got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
	pod.pod.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever)
	want = "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
	if got := fitErrorMessage(verdicts[2:3], preemptionMessage(pod, verdicts[2:3])); got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
}
