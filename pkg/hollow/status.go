package hollow

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// register creates the Node, or takes over the one a previous run of this node
// (or another agent with its name) left, and posts a fresh status.
func (n *Node) register(ctx context.Context) (*corev1.Node, error) {
	var out *corev1.Node
	err := retry(ctx, n.clock, func() error {
		node := n.initialNode()
		created, err := n.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err == nil {
			out = created
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			n.log.Warn("registering node", "err", err)
			return err
		}
		existing, err := n.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if missing := n.missingLabels(existing); len(missing) > 0 {
			existing = existing.DeepCopy()
			if existing.Labels == nil {
				existing.Labels = map[string]string{}
			}
			for k, v := range missing {
				existing.Labels[k] = v
			}
			if existing, err = n.client.CoreV1().Nodes().Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		out, err = n.updateStatus(ctx, existing)
		return err
	})
	return out, err
}

func (n *Node) labels() map[string]string {
	l := cloneLabels(n.opts.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l[corev1.LabelHostname] = n.name
	l[corev1.LabelOSStable] = "linux"
	l[corev1.LabelArchStable] = "amd64"
	l[corev1.LabelInstanceTypeStable] = InstanceType
	return l
}

func (n *Node) missingLabels(node *corev1.Node) map[string]string {
	missing := map[string]string{}
	for k, v := range n.labels() {
		if cur, ok := node.Labels[k]; !ok || cur != v {
			missing[k] = v
		}
	}
	return missing
}

func (n *Node) initialNode() *corev1.Node {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels()}}
	n.fillStatus(node)
	return node
}

// postStatus re-posts the node's status with fresh heartbeats; a Node deleted
// under the running agent is registered again.
func (n *Node) postStatus(ctx context.Context) error {
	node := n.currentNode()
	for attempt := 0; ; attempt++ {
		if node == nil {
			var err error
			node, err = n.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				_, err = n.register(ctx)
				return err
			}
			if err != nil {
				return err
			}
		}
		_, err := n.updateStatus(ctx, node)
		if apierrors.IsConflict(err) && attempt < 5 {
			node = nil
			continue
		}
		if apierrors.IsNotFound(err) {
			_, err = n.register(ctx)
		}
		return err
	}
}

func (n *Node) updateStatus(ctx context.Context, node *corev1.Node) (*corev1.Node, error) {
	node = node.DeepCopy()
	n.fillStatus(node)
	return n.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
}

// fillStatus writes what the node reports into node.status, keeping the
// transition times of conditions whose status did not change.
func (n *Node) fillStatus(node *corev1.Node) {
	now := metav1.NewTime(n.clock.Now())
	resources := corev1.ResourceList{
		corev1.ResourceCPU:              n.opts.CPU.DeepCopy(),
		corev1.ResourceMemory:           n.opts.Memory.DeepCopy(),
		corev1.ResourcePods:             *resource.NewQuantity(int64(n.opts.Pods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: ephemeralStorage.DeepCopy(),
		"hugepages-1Gi":                 resource.MustParse("0"),
		"hugepages-2Mi":                 resource.MustParse("0"),
	}
	s := &node.Status
	s.Capacity = resources
	s.Allocatable = resources.DeepCopy()
	s.Phase = ""
	want := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	conditions := make([]corev1.NodeCondition, 0, len(want)+len(s.Conditions))
	for _, c := range s.Conditions {
		if !hasCondition(want, c.Type) {
			conditions = append(conditions, c) // someone else's (e.g. NetworkUnavailable)
		}
	}
	for _, c := range want {
		c.LastHeartbeatTime = now
		c.LastTransitionTime = now
		for _, old := range s.Conditions {
			if old.Type == c.Type && old.Status == c.Status && !old.LastTransitionTime.IsZero() {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		conditions = append(conditions, c)
	}
	s.Conditions = conditions
	s.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: n.opts.InternalIP},
		{Type: corev1.NodeHostName, Address: n.name},
	}
	s.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: KubeletPort}}
	id := nameID(n.name)
	s.NodeInfo = corev1.NodeSystemInfo{
		MachineID:               strings.ReplaceAll(id, "-", ""),
		SystemUUID:              id,
		BootID:                  id,
		KernelVersion:           n.kernel,
		OSImage:                 OSImage,
		ContainerRuntimeVersion: ContainerRuntimeVersion,
		KubeletVersion:          KubeletVersion,
		KubeProxyVersion:        "",
		OperatingSystem:         "linux",
		Architecture:            "amd64",
	}
}

func hasCondition(cs []corev1.NodeCondition, t corev1.NodeConditionType) bool {
	for _, c := range cs {
		if c.Type == t {
			return true
		}
	}
	return false
}

// nameID is a UUID-shaped identifier that stays the same for a node name.
func nameID(name string) string {
	h := fnv.New128a()
	h.Write([]byte(name))
	b := h.Sum(nil)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// nodeOwnerRef is the owner reference a node's Lease carries, so that the Lease
// goes when the Node does.
func nodeOwnerRef(name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: name, UID: uid}
}
