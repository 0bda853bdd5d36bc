package podnet

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, podCIDR, ip, mac string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
	if podCIDR != "" {
		n.Spec.PodCIDRs = []string{podCIDR}
	}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	if mac != "" {
		n.Annotations = map[string]string{VXLANMACAnnotation: mac}
	}
	return n
}

func TestPeersOf(t *testing.T) {
	self := node("a", "10.42.1.0/24", "192.168.1.1", "")
	cluster := netip.MustParsePrefix("10.42.0.0/16")
	selfIP := netip.MustParseAddr("192.168.1.1")
	for _, tc := range []struct {
		name    string
		nodes   []*corev1.Node
		withMAC bool
		want    []string // "name podCIDR nodeIP [mac]"
		skipped map[string]string
	}{
		{
			name:  "routes every other node with a pod CIDR and an InternalIP, by name",
			nodes: []*corev1.Node{node("c", "10.42.3.0/24", "192.168.1.3", ""), self, node("b", "10.42.2.0/24", "192.168.1.2", "")},
			want:  []string{"b 10.42.2.0/24 192.168.1.2", "c 10.42.3.0/24 192.168.1.3"},
		},
		{
			name:  "nodes still joining are left out quietly",
			nodes: []*corev1.Node{self, node("b", "", "192.168.1.2", ""), node("c", "10.42.3.0/24", "", "")},
		},
		{
			name: "pod CIDRs podnet must not route are reported",
			nodes: []*corev1.Node{self,
				node("outside", "10.99.0.0/24", "192.168.1.5", ""),
				node("wide", "10.0.0.0/8", "192.168.1.6", ""),
				node("mine", "10.42.1.0/25", "192.168.1.7", ""),
				node("twin", "10.42.4.0/24", "192.168.1.1", ""),
				node("b", "10.42.2.0/24", "192.168.1.2", ""),
				node("b2", "10.42.2.0/24", "192.168.1.8", "")},
			want: []string{"b 10.42.2.0/24 192.168.1.2"},
			skipped: map[string]string{
				"outside": "pod CIDR 10.99.0.0/24 is outside the cluster CIDR 10.42.0.0/16",
				"wide":    "pod CIDR 10.0.0.0/8 is outside the cluster CIDR 10.42.0.0/16",
				"mine":    "pod CIDR 10.42.1.0/25 overlaps this node's 10.42.1.0/24",
				"twin":    "InternalIP 192.168.1.1 is this node's own",
				"b2":      `pod CIDR 10.42.2.0/24 overlaps node "b"'s 10.42.2.0/24`,
			},
		},
		{
			name:    "vxlan needs the node's published MAC",
			withMAC: true,
			nodes: []*corev1.Node{self,
				node("b", "10.42.2.0/24", "192.168.1.2", "0a:58:0a:2a:02:00"),
				node("c", "10.42.3.0/24", "192.168.1.3", ""),
				node("d", "10.42.4.0/24", "192.168.1.4", "nonsense")},
			want:    []string{"b 10.42.2.0/24 192.168.1.2 0a:58:0a:2a:02:00"},
			skipped: map[string]string{"d": `annotation skiff.io/vxlan-mac="nonsense" is not a MAC address`},
		},
		{
			name:  "an unmasked pod CIDR is masked; IPv6 is ignored",
			nodes: []*corev1.Node{self, {ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.NodeSpec{PodCIDRs: []string{"fd00::/64", "10.42.2.7/24"}}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "fd00::2"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.2"}}}}},
			want:  []string{"b 10.42.2.0/24 192.168.1.2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers, skipped := peersOf(tc.nodes, "a", selfIP, cluster, tc.withMAC)
			var got []string
			for _, p := range peers {
				s := fmt.Sprintf("%s %s %s", p.name, p.podCIDR, p.nodeIP)
				if p.mac != nil {
					s += " " + p.mac.String()
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("peers = %q, want %q", got, tc.want)
			}
			if tc.skipped == nil {
				tc.skipped = map[string]string{}
			}
			if !reflect.DeepEqual(skipped, tc.skipped) {
				t.Errorf("skipped = %q, want %q", skipped, tc.skipped)
			}
		})
	}
}

func TestParseBackend(t *testing.T) {
	for _, s := range []string{"host-gw", "vxlan"} {
		if b, err := ParseBackend(s); err != nil || string(b) != s {
			t.Errorf("ParseBackend(%q) = %q, %v", s, b, err)
		}
	}
	if _, err := ParseBackend("udp"); err == nil {
		t.Error(`ParseBackend("udp") succeeded, want an error naming the choices`)
	}
}
