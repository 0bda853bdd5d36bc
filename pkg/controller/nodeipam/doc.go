// Package nodeipam is the node IPAM controller: it gives every Node a distinct
// subnet (a /24 by default) of the cluster CIDR in spec.podCIDR and
// spec.podCIDRs, and takes the subnet back when the Node is deleted. It learns
// the subnets in use from the Nodes themselves, so it survives a restart.
//
// It only ever sets a podCIDR that is empty (the API forbids changing one), and
// never hands out a subnet some Node holds; it must not touch anything else on
// a Node, nor program routes or addresses (that is the network's job).
package nodeipam
