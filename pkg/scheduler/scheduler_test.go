package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const notHelpful = "Preemption is not helpful for scheduling"

func TestSpreadsControllerPodsOverNodes(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		e.addNode(newNode(n))
	}
	rc, err := e.client.CoreV1().ReplicationControllers(ns).Create(e.ctx, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "kubia"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To(int32(6)),
			Selector: map[string]string{"app": "kubia"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kubia", Image: "kubia"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// An unrelated pod on n1 must not make the RC's pods avoid it.
	e.addPod(newPod("other", nodeSelector("kubernetes.io/hostname", "n1")))
	e.waitBound("other")

	perNode := map[string]int{}
	for i := range 6 {
		name := fmt.Sprintf("kubia-%d", i)
		e.addPod(newPod(name, ownedBy("ReplicationController", "kubia", string(rc.UID))))
	}
	for i := range 6 {
		name := fmt.Sprintf("kubia-%d", i)
		node := e.waitBound(name)
		perNode[node]++
		e.expectScheduledEvent(name, node)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if perNode[n] != 2 {
			t.Errorf("RC pods per node = %v, want 2 on each of n1, n2, n3", perNode)
			break
		}
	}
}

func TestNodeSelector(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("n1", withLabels("disk", "ssd")))
	e.addNode(newNode("n2", withLabels("disk", "hdd")))
	e.addNode(newNode("n3"))

	for i := range 4 {
		name := fmt.Sprintf("ssd-%d", i)
		e.addPod(newPod(name, nodeSelector("disk", "ssd")))
		if got := e.waitBound(name); got != "n1" {
			t.Errorf("pod %s with nodeSelector disk=ssd went to %s, want n1", name, got)
		}
	}
	e.addPod(newPod("nvme", nodeSelector("disk", "nvme")))
	e.waitUnschedulable("nvme", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "+
		"preemption: 0/3 nodes are available: 3 "+notHelpful+".")

	// Labelling a node is a cluster change: the pod is retried and fits.
	e.updateNode("n3", func(n *corev1.Node) { n.Labels["disk"] = "nvme" }, false)
	if got := e.waitBound("nvme"); got != "n3" {
		t.Errorf("pod nvme went to %s after n3 was labelled disk=nvme, want n3", got)
	}
	e.expectScheduledEvent("nvme", "n3")
}

func TestNodeAffinity(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("n1", withLabels("zone", "a", "gen", "3")))
	e.addNode(newNode("n2", withLabels("zone", "b", "gen", "5", "gpu", "")))
	e.addNode(newNode("n3", withLabels("zone", "c", "gen", "7")))

	expr := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	cases := []struct {
		name  string
		terms []corev1.NodeSelectorTerm
		want  string
	}{
		{"in", []corev1.NodeSelectorTerm{expr("zone", corev1.NodeSelectorOpIn, "b", "x")}, "n2"},
		{"exists", []corev1.NodeSelectorTerm{expr("gpu", corev1.NodeSelectorOpExists)}, "n2"},
		{"gt", []corev1.NodeSelectorTerm{expr("gen", corev1.NodeSelectorOpGt, "5")}, "n3"},
		{"lt", []corev1.NodeSelectorTerm{expr("gen", corev1.NodeSelectorOpLt, "5")}, "n1"},
		{"field", []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n3"}}}}}, "n3"},
		{"and", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"b"}},
			{Key: "gen", Operator: corev1.NodeSelectorOpLt, Values: []string{"6"}},
			{Key: "gpu", Operator: corev1.NodeSelectorOpDoesNotExist},
		}}}, "n1"},
		{"or", []corev1.NodeSelectorTerm{expr("zone", corev1.NodeSelectorOpIn, "nowhere"), expr("gen", corev1.NodeSelectorOpIn, "7")}, "n3"},
		{"field-notin", []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "gen", Operator: corev1.NodeSelectorOpGt, Values: []string{"4"}}},
			MatchFields:      []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n3"}}},
		}}, "n2"},
	}
	for _, c := range cases {
		e.addPod(newPod(c.name, affinity(c.terms...)))
	}
	for _, c := range cases {
		if got := e.waitBound(c.name); got != c.want {
			t.Errorf("pod %s went to %s, want %s", c.name, got, c.want)
		}
	}

	// nodeSelector and affinity must both match.
	e.addPod(newPod("both", nodeSelector("zone", "a"), affinity(expr("gen", corev1.NodeSelectorOpGt, "4"))))
	e.waitUnschedulable("both", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "+
		"preemption: 0/3 nodes are available: 3 "+notHelpful+".")
}

func TestTaintsAndTolerations(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("gpu", withTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)))
	// Ready, but tainted the way the node lifecycle controller taints an
	// unreachable node: the default 300s toleration every pod gets at creation
	// lets pods be scheduled here, as upstream.
	e.addNode(newNode("flaky", withTaint("node.kubernetes.io/unreachable", "", corev1.TaintEffectNoExecute)))
	// Not ready at all: it counts as tainted unreachable:NoSchedule.
	e.addNode(newNode("gone", withReady(corev1.ConditionUnknown)))

	e.addPod(newPod("plain"))
	if got := e.waitBound("plain"); got != "flaky" {
		t.Errorf("pod without tolerations went to %s, want flaky (only its NoExecute unreachable taint is tolerated by default)", got)
	}
	p, err := e.client.CoreV1().Pods(ns).Get(e.ctx, "plain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Tolerations) != 2 {
		t.Errorf("tolerations %+v, want the two defaulted ones", p.Spec.Tolerations)
	}

	e.addPod(newPod("dedicated", nodeSelector("kubernetes.io/hostname", "gpu"),
		toleration(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule})))
	if got := e.waitBound("dedicated"); got != "gpu" {
		t.Errorf("pod tolerating dedicated=gpu went to %s, want gpu", got)
	}
	// A pod that tolerates everything may go to a node that is not ready.
	e.addPod(newPod("anything", nodeSelector("kubernetes.io/hostname", "gone"), toleration(corev1.Toleration{Operator: corev1.TolerationOpExists})))
	if got := e.waitBound("anything"); got != "gone" {
		t.Errorf("pod tolerating everything went to %s, want gone", got)
	}

	e.addPod(newPod("picky", affinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
		{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"flaky"}}}})))
	e.waitUnschedulable("picky", "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "+
		"1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. "+
		"preemption: 0/3 nodes are available: 3 "+notHelpful+".")

	// A NoExecute taint the pod does not tolerate keeps it off too.
	e.updateNode("flaky", func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "evict", Value: "yes", Effect: corev1.TaintEffectNoExecute})
	}, false)
	e.addPod(newPod("evicted", nodeSelector("kubernetes.io/hostname", "flaky")))
	// Taints are checked before the node selector, so every node reports one.
	e.waitUnschedulable("evicted", "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "+
		"1 node(s) had untolerated taint {evict: yes}, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. "+
		"preemption: 0/3 nodes are available: 3 "+notHelpful+".")

	// Adding a toleration to a pending pod is retried at once.
	e.addPod(newPod("late", nodeSelector("kubernetes.io/hostname", "gpu")))
	e.waitUnschedulable("late", "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "+
		"1 node(s) had untolerated taint {evict: yes}, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. "+
		"preemption: 0/3 nodes are available: 3 "+notHelpful+".")
	late, err := e.client.CoreV1().Pods(ns).Get(e.ctx, "late", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	late.Spec.Tolerations = append(late.Spec.Tolerations, corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists})
	if _, err := e.client.CoreV1().Pods(ns).Update(e.ctx, late, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := e.waitBound("late"); got != "gpu" {
		t.Errorf("pod late went to %s after tolerating dedicated, want gpu", got)
	}

	// Removing the taint from gpu lets picky in.
	e.updateNode("gpu", func(n *corev1.Node) { n.Spec.Taints = nil }, false)
	if got := e.waitBound("picky"); got != "gpu" {
		t.Errorf("pod picky went to %s after gpu's taint was removed, want gpu", got)
	}
}

func TestResources(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("small-1", withCapacity("2", "4Gi", 110)))
	e.addNode(newNode("small-2", withCapacity("2", "4Gi", 110)))

	e.addPod(newPod("big", requests("3", "1Gi")))
	e.waitUnschedulable("big", "0/2 nodes are available: 2 Insufficient cpu. "+
		"preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")
	e.addPod(newPod("huge", requests("3", "6Gi")))
	e.waitUnschedulable("huge", "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. "+
		"preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")

	e.addNode(newNode("big-1", withCapacity("8", "16Gi", 110)))
	if got := e.waitBound("big"); got != "big-1" {
		t.Errorf("pod big went to %s, want big-1", got)
	}
	e.expectScheduledEvent("big", "big-1")
	if got := e.waitBound("huge"); got != "big-1" {
		t.Errorf("pod huge went to %s, want big-1", got)
	}
}

// A burst of pods must not overcommit a node: pods placed but not yet seen
// bound count against it.
func TestBurstDoesNotOvercommit(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("n1", withCapacity("1", "64Gi", 110)))
	e.addNode(newNode("n2", withCapacity("64", "64Gi", 3)))
	for i := range 12 {
		e.addPod(newPod(fmt.Sprintf("p-%d", i), requests("300m", "")))
	}
	perNode := map[string]int{}
	pending := []string{}
	e.eventually("3 pods on each node and the rest unschedulable", 10*time.Second, func() (bool, string) {
		perNode, pending = map[string]int{}, nil
		for i := range 12 {
			name := fmt.Sprintf("p-%d", i)
			if n := e.nodeOf(name); n != "" {
				perNode[n]++
			} else {
				pending = append(pending, name)
			}
		}
		return perNode["n1"] == 3 && perNode["n2"] == 3 && len(pending) == 6, fmt.Sprint(perNode)
	})
	for _, name := range pending {
		e.waitUnschedulable(name, "0/2 nodes are available: 1 Insufficient cpu, 1 Too many pods. "+
			"preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")
	}
	if perNode["n1"] != 3 || perNode["n2"] != 3 {
		t.Fatalf("pods per node %v, want 3 and 3", perNode)
	}
}

func TestHostPorts(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("n1"))
	e.addNode(newNode("n2"))

	e.addPod(newPod("web-1", hostPort(8080, corev1.ProtocolTCP)))
	first := e.waitBound("web-1")
	e.addPod(newPod("web-2", hostPort(8080, corev1.ProtocolTCP)))
	if second := e.waitBound("web-2"); second == first {
		t.Errorf("web-1 and web-2 both hold TCP host port 8080 on %s", first)
	}
	e.addPod(newPod("dns", hostPort(8080, corev1.ProtocolUDP)))
	e.waitBound("dns")

	e.addPod(newPod("web-3", hostPort(8080, corev1.ProtocolTCP)))
	e.waitUnschedulable("web-3", "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. "+
		"preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")

	// Deleting a pod frees its port; the waiting pod is retried.
	e.deletePod("web-1")
	if got := e.waitBound("web-3"); got != first {
		t.Errorf("web-3 went to %s, want %s where web-1 freed the port", got, first)
	}
}

func TestUnschedulableNode(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("cordoned", cordoned))
	e.addNode(newNode("open"))

	for i := range 3 {
		name := fmt.Sprintf("p-%d", i)
		e.addPod(newPod(name))
		if got := e.waitBound(name); got != "open" {
			t.Errorf("pod %s went to %s, want open (the other node is cordoned)", name, got)
		}
	}
	e.addPod(newPod("tolerant", nodeSelector("kubernetes.io/hostname", "cordoned"),
		toleration(corev1.Toleration{Key: "node.kubernetes.io/unschedulable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})))
	if got := e.waitBound("tolerant"); got != "cordoned" {
		t.Errorf("pod tolerating the unschedulable taint went to %s, want cordoned", got)
	}

	e.addPod(newPod("pinned", nodeSelector("kubernetes.io/hostname", "cordoned")))
	e.waitUnschedulable("pinned", "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "+
		"1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 "+notHelpful+".")
	e.updateNode("cordoned", func(n *corev1.Node) { n.Spec.Unschedulable = false }, false)
	if got := e.waitBound("pinned"); got != "cordoned" {
		t.Errorf("pod pinned went to %s after uncordon, want cordoned", got)
	}
}

func TestRetriesWhenNodeBecomesReady(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addPod(newPod("early"))
	e.waitUnschedulable("early", "no nodes available to schedule pods")

	e.addNode(newNode("n1", withReady(corev1.ConditionFalse)))
	e.waitUnschedulable("early", "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. "+
		"preemption: 0/1 nodes are available: 1 "+notHelpful+".")

	e.updateNode("n1", func(n *corev1.Node) {
		n.Status.Conditions[0].Status = corev1.ConditionTrue
		n.Status.Conditions[0].LastHeartbeatTime = metav1.Now()
	}, true)
	if got := e.waitBound("early"); got != "n1" {
		t.Errorf("pod went to %s, want n1", got)
	}
	e.expectScheduledEvent("early", "n1")
}

func TestIgnoresOtherSchedulers(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.addNode(newNode("n1"))
	e.addPod(newPod("theirs", func(p *corev1.Pod) { p.Spec.SchedulerName = "other-scheduler" }))
	e.addPod(newPod("ours"))
	e.waitBound("ours")
	e.expectScheduledEvent("ours", "n1")
	if n := e.nodeOf("theirs"); n != "" {
		t.Errorf("pod for other-scheduler was bound to %s", n)
	}
	if evs := e.events("theirs"); len(evs) != 0 {
		t.Errorf("events about the other scheduler's pod: %+v", evs)
	}
}
