// Package podnet makes the pod network flat across nodes: every pod reaches
// every other pod at its own IP, with no NAT. It watches Nodes and, for every
// other node with a pod CIDR and an InternalIP, programs this node's kernel
// through netlink with one of two backends:
//
//   - host-gw routes the node's pod CIDR via the node's InternalIP. It needs
//     every node on one link (one L2 segment); a node reached through a
//     gateway is reported, not routed.
//   - vxlan tunnels pod traffic in VXLAN (device skiff.vxlan, VNI 1, UDP
//     8472) to the node's InternalIP, so nodes only need IP reachability.
//     Each node publishes its tunnel endpoint's MAC in its own Node's
//     skiff.io/vxlan-mac annotation; the endpoint's address is the network
//     address of the node's pod CIDR (10.42.3.0 for 10.42.3.0/24).
//
// It owns exactly: main-table routes whose protocol is RouteProtocol, the
// skiff.vxlan device with the neighbour and FDB entries on it, and the
// annotation on its own Node. It must never change a route, neighbour or
// device it did not make, never patch another node's Node, and never NAT:
// the pod's bridge, its addresses and the CNI configuration belong to the
// node agent, masquerading to the service proxy. The one setting outside
// that it changes is net.ipv4.ip_forward, which a flat network cannot do
// without.
package podnet
