package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

func newNode() *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1.example.com", Labels: map[string]string{"kubernetes.io/hostname": "node-1"}},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110"),
		}},
	}
	defaults.NewNode(n)
	return n
}

func TestValidateNode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Node)
		want   []e
	}{
		{"valid", func(*corev1.Node) {}, nil},
		{"pod CIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "fd00:1::/64"} }, nil},
		{"name", func(n *corev1.Node) { n.Name = "Node_1" }, []e{invalid("metadata.name", "RFC 1123 subdomain")}},
		{"namespaced", func(n *corev1.Node) { n.Namespace = "default" }, []e{forbidden("metadata.namespace", "")}},
		{"taints", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{
				{Key: "gpu", Value: "yes", Effect: corev1.TaintEffectNoSchedule},
				{Key: "gpu", Value: "no", Effect: corev1.TaintEffectNoSchedule},
				{Key: "gpu", Effect: corev1.TaintEffectNoExecute},
				{Key: "", Effect: "Evict"},
				{Key: "x", Value: "not valid"},
			}
		}, []e{
			{"FieldValueDuplicate", "metadata.taints[1]", "taints must be unique by key and effect pair"},
			invalid("metadata.taints[3].key", "name part must be non-empty"),
			invalid("metadata.taints[3].key", "name part must consist of"),
			notSupported("metadata.taints[3].effect", `"NoSchedule", "PreferNoSchedule", "NoExecute"`),
			invalid("metadata.taints[4].value", ""),
			required("metadata.taints[4].effect"),
		}},
		{"negative capacity", func(n *corev1.Node) { n.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("-1") },
			[]e{invalid("status.capacity.cpu", "must be greater than or equal to 0")}},
		{"pod CIDRs of one family", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "10.244.1.0/24"} },
			[]e{invalid("spec.podCIDRs", "may specify no more than one CIDR for each IP family"), duplicate("spec.podCIDRs[1]")}},
		{"bad pod CIDR", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/33"} },
			[]e{invalid("spec.podCIDRs[0]", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode()
			tc.mutate(n)
			expectErrs(t, ValidateNode(n), tc.want...)
		})
	}
}

func TestValidateNodeUpdate(t *testing.T) {
	old := newNode()
	old.ObjectMeta = stored(old.ObjectMeta)
	for _, tc := range []struct {
		name   string
		old    func(*corev1.Node)
		mutate func(*corev1.Node)
		want   []e
	}{
		{name: "status, taints, unschedulable, labels", mutate: func(n *corev1.Node) {
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.10"}, {Type: corev1.NodeHostName, Address: "node-1"}}
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
			n.Spec.Taints = nil
			n.Spec.Unschedulable = true
			n.Labels["role"] = "worker"
		}},
		{name: "pod CIDR assigned", mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24"}; n.Spec.PodCIDR = "10.244.1.0/24" }},
		{name: "pod CIDR changed", old: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24"} },
			mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.2.0/24"} },
			want:   []e{forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid")}},
		{name: "provider ID changed", old: func(n *corev1.Node) { n.Spec.ProviderID = "skiff://node-1" },
			mutate: func(n *corev1.Node) { n.Spec.ProviderID = "skiff://node-2" },
			want:   []e{forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid")}},
		{name: "external ID", mutate: func(n *corev1.Node) { n.Spec.DoNotUseExternalID = "x" },
			want: []e{forbidden("spec.externalID", "may not be updated")}},
		{name: "duplicate address", mutate: func(n *corev1.Node) {
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.10"}, {Type: corev1.NodeInternalIP, Address: "192.0.2.10"}}
		}, want: []e{duplicate("status.addresses[1]")}},
		{name: "bad taint", mutate: func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Key: "a"}} },
			want: []e{required("metadata.taints[0].effect")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := old.DeepCopy()
			if tc.old != nil {
				tc.old(o)
			}
			n := o.DeepCopy()
			tc.mutate(n)
			expectErrs(t, ValidateNodeUpdate(n, o), tc.want...)
		})
	}
}
