package podnet

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// peer is another node whose pods this node must reach.
type peer struct {
	name    string
	podCIDR netip.Prefix
	nodeIP  netip.Addr
	// mac is the node's VXLAN endpoint; nil when it has published none.
	mac net.HardwareAddr
}

// vtep is the address of the peer's VXLAN endpoint: the network address of
// its pod CIDR, which no pod is ever given.
func (p peer) vtep() netip.Addr { return p.podCIDR.Addr() }

// podCIDROf is the node's IPv4 pod CIDR, masked; invalid if it has none.
func podCIDROf(n *corev1.Node) netip.Prefix {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() {
			return p.Masked()
		}
	}
	return netip.Prefix{}
}

// internalIPOf is the node's first IPv4 InternalIP; invalid if it has none.
func internalIPOf(n *corev1.Node) netip.Addr {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Unmap().Is4() {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// peersOf picks, from all nodes, the ones this node routes to, sorted by
// name, and says why it left out each other node it could not route.
// Nodes that merely have no pod CIDR or address yet are left out silently
// (that is how every node starts). Of two nodes claiming overlapping pod
// CIDRs, the one whose name sorts first wins. withMAC asks for the VXLAN
// endpoint MAC each node publishes; nodes without one are left out.
func peersOf(nodes []*corev1.Node, self string, selfIP netip.Addr, cluster netip.Prefix, withMAC bool) ([]peer, map[string]string) {
	sorted := append([]*corev1.Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var own netip.Prefix
	for _, n := range sorted {
		if n.Name == self {
			own = podCIDROf(n)
		}
	}
	var peers []peer
	skipped := map[string]string{}
	for _, n := range sorted {
		if n.Name == self {
			continue
		}
		cidr, ip := podCIDROf(n), internalIPOf(n)
		if !cidr.IsValid() || !ip.IsValid() {
			continue
		}
		p := peer{name: n.Name, podCIDR: cidr, nodeIP: ip}
		switch {
		case cluster.IsValid() && (!cluster.Contains(cidr.Addr()) || cidr.Bits() < cluster.Bits()):
			skipped[n.Name] = fmt.Sprintf("pod CIDR %s is outside the cluster CIDR %s", cidr, cluster)
			continue
		case own.IsValid() && own.Overlaps(cidr):
			skipped[n.Name] = fmt.Sprintf("pod CIDR %s overlaps this node's %s", cidr, own)
			continue
		case ip == selfIP:
			skipped[n.Name] = fmt.Sprintf("InternalIP %s is this node's own", ip)
			continue
		}
		if i := overlapping(peers, cidr); i >= 0 {
			skipped[n.Name] = fmt.Sprintf("pod CIDR %s overlaps node %q's %s", cidr, peers[i].name, peers[i].podCIDR)
			continue
		}
		if withMAC {
			s := n.Annotations[VXLANMACAnnotation]
			if s == "" {
				continue // not published yet: the node's podnet has not started
			}
			mac, err := net.ParseMAC(s)
			if err != nil || len(mac) != 6 {
				skipped[n.Name] = fmt.Sprintf("annotation %s=%q is not a MAC address", VXLANMACAnnotation, s)
				continue
			}
			p.mac = mac
		}
		peers = append(peers, p)
	}
	return peers, skipped
}

func overlapping(peers []peer, cidr netip.Prefix) int {
	for i, p := range peers {
		if p.podCIDR.Overlaps(cidr) {
			return i
		}
	}
	return -1
}
