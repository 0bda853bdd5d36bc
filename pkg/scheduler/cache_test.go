package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func owned(uid string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicationController", Name: "rc", UID: types.UID(uid), Controller: ptr.To(true)}}
	}
}

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := newCache()
	c.setNode(testNode("n1", "4", "4Gi", 10).node)
	pi := testPod("p", container("1", ""), owned("rc-1"))

	c.mu.Lock()
	c.assumeLocked(pi, "n1")
	c.mu.Unlock()
	if n := c.nodes["n1"]; n.requested.milliCPU != 1000 || n.pods != 1 || c.owners["rc-1"]["n1"] != 1 {
		t.Fatalf("after assume: %+v owners %v", n, c.owners)
	}
	// The API shows it bound: counted once, no longer assumed.
	bound := pi.pod.DeepCopy()
	bound.Spec.NodeName = "n1"
	c.setPod(newPodInfo(bound))
	if n := c.nodes["n1"]; n.requested.milliCPU != 1000 || n.pods != 1 || c.isAssumed(pi.pod.UID) {
		t.Fatalf("after confirm: %+v", n)
	}
	c.forget(pi.pod.UID, "n1") // too late: it is bound
	if c.nodes["n1"].pods != 1 {
		t.Fatal("forget must not undo a confirmed pod")
	}
	c.removePod(pi.pod.UID)
	if n := c.nodes["n1"]; n.requested.milliCPU != 0 || n.pods != 0 || len(c.owners) != 0 {
		t.Fatalf("after delete: %+v owners %v", n, c.owners)
	}

	other := testPod("q", container("1", ""))
	c.mu.Lock()
	c.assumeLocked(other, "n1")
	c.mu.Unlock()
	c.forget(other.pod.UID, "n1")
	if c.nodes["n1"].pods != 0 {
		t.Fatal("forget must undo an assumed pod")
	}
}

func TestCacheNodeRemovedWithPods(t *testing.T) {
	c := newCache()
	c.setNode(testNode("n1", "4", "4Gi", 10).node)
	p := testPod("p", container("1", "")).pod
	p.Spec.NodeName = "n1"
	c.setPod(newPodInfo(p))
	c.removeNode("n1")
	if len(c.list) != 0 || c.nodes["n1"] == nil {
		t.Fatalf("a removed node with pods: list %v, info %v", c.list, c.nodes["n1"])
	}
	c.removePod(p.UID)
	if c.nodes["n1"] != nil {
		t.Fatal("the node's totals must go with its last pod")
	}
}

func TestSpreadScore(t *testing.T) {
	c := newCache()
	for _, n := range []string{"a", "b", "c"} {
		c.setNode(testNode(n, "4", "4Gi", 10).node)
	}
	for i, node := range []string{"a", "a", "b"} {
		p := testPod("p"+string(rune('0'+i)), container("100m", "100Mi"), owned("rc")).pod
		p.Spec.NodeName = node
		c.setPod(newPodInfo(p))
	}
	pi := testPod("new", container("100m", "100Mi"), owned("rc"))
	cands := []candidate{{node: c.nodes["a"]}, {node: c.nodes["b"]}, {node: c.nodes["c"]}}
	for i := range cands {
		c.prepareLocked(pi, &cands[i])
	}
	normalise(cands)
	if !(cands[2].total > cands[1].total && cands[1].total > cands[0].total) {
		t.Errorf("scores a=%d b=%d c=%d: want fewer pods of the controller to score higher", cands[0].total, cands[1].total, cands[2].total)
	}
}
