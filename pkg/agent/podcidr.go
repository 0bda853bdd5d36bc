package agent

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// timeNow is the clock of statuses and leases.
var timeNow = time.Now

// waitPodCIDR returns the node's pod CIDR: Options.PodCIDR, else the one the
// node IPAM controller puts in spec.podCIDR. When none arrives within
// PodCIDRTimeout (no controller runs), it derives a /24 of the cluster CIDR
// from the node's name and records it in spec.podCIDR itself, so that the
// cluster (and a node IPAM controller started later) knows it is taken.
func (a *Agent) waitPodCIDR(ctx context.Context) (string, error) {
	if a.opts.PodCIDR != "" {
		return a.opts.PodCIDR, nil
	}
	nodes := a.client.CoreV1().Nodes()
	deadline := time.Now().Add(a.opts.PodCIDRTimeout)
	for {
		node, err := nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			return node.Spec.PodCIDR, nil
		}
		if err != nil && ctx.Err() != nil {
			return "", ctx.Err()
		}
		if time.Now().After(deadline) && err == nil {
			cidr, derr := derivePodCIDR(a.opts.ClusterCIDR, a.opts.NodeName)
			if derr != nil {
				return "", derr
			}
			node = node.DeepCopy()
			node.Spec.PodCIDR, node.Spec.PodCIDRs = cidr, []string{cidr}
			_, err := nodes.Update(ctx, node, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				continue // read again: the controller may just have assigned one
			}
			if err != nil {
				return "", fmt.Errorf("recording pod CIDR %s on node %q: %w", cidr, a.opts.NodeName, err)
			}
			a.log.Warn("no pod CIDR assigned (is the node IPAM controller running?); derived one from the node name", "podCIDR", cidr, "waited", a.opts.PodCIDRTimeout)
			return cidr, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// derivePodCIDR picks the /24 (or the whole range, when it is smaller) of
// clusterCIDR numbered by the FNV-1a hash of the node name.
func derivePodCIDR(clusterCIDR, nodeName string) (string, error) {
	_, cluster, err := net.ParseCIDR(clusterCIDR)
	if err != nil {
		return "", err
	}
	ip4 := cluster.IP.To4()
	ones, bits := cluster.Mask.Size()
	if ip4 == nil || bits != 32 {
		return "", fmt.Errorf("deriving a pod CIDR: cluster CIDR %s is not IPv4", clusterCIDR)
	}
	if ones >= 24 {
		return cluster.String(), nil
	}
	h := fnv.New32a()
	h.Write([]byte(nodeName))
	n := h.Sum32() % (1 << (24 - ones))
	base := binary.BigEndian.Uint32(ip4) + n<<8
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, base)
	return (&net.IPNet{IP: out, Mask: net.CIDRMask(24, 32)}).String(), nil
}
