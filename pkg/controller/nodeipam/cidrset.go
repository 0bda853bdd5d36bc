package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net"
)

// ErrCIDRRangeFull: every subnet of the cluster CIDR is in use.
var ErrCIDRRangeFull = errors.New("cluster CIDR is full")

// maxSubnetBits bounds how many subnets a cluster CIDR is cut into (2^16), as
// upstream's range allocator does.
const maxSubnetBits = 16

// cidrSet cuts a cluster CIDR into subnets of one size and tracks which are in
// use. It hands them out round-robin, so a released subnet is not the next one
// given.
type cidrSet struct {
	cluster  *net.IPNet
	bits     int // address length: 32 or 128
	maskSize int // subnet prefix length
	used     []bool
	inUse    int
	next     int
}

func newCIDRSet(cluster *net.IPNet, maskSize int) (*cidrSet, error) {
	ones, bits := cluster.Mask.Size()
	if maskSize < ones {
		return nil, fmt.Errorf("node mask size /%d is larger than cluster CIDR %s", maskSize, cluster)
	}
	if maskSize > bits {
		return nil, fmt.Errorf("node mask size /%d is longer than an address of cluster CIDR %s", maskSize, cluster)
	}
	if maskSize-ones > maxSubnetBits {
		return nil, fmt.Errorf("node mask size /%d cuts cluster CIDR %s into more than 2^%d subnets", maskSize, cluster, maxSubnetBits)
	}
	base := &net.IPNet{IP: cluster.IP.Mask(cluster.Mask), Mask: cluster.Mask}
	return &cidrSet{cluster: base, bits: bits, maskSize: maskSize, used: make([]bool, 1<<(maskSize-ones))}, nil
}

// allocate takes the next free subnet.
func (s *cidrSet) allocate() (*net.IPNet, error) {
	n := len(s.used)
	for i := range n {
		idx := (s.next + i) % n
		if !s.used[idx] {
			s.used[idx] = true
			s.inUse++
			s.next = (idx + 1) % n
			return s.subnet(idx), nil
		}
	}
	return nil, fmt.Errorf("%w: all %d subnets of %s in use", ErrCIDRRangeFull, n, s.cluster)
}

// occupy marks every subnet cidr overlaps as in use. A cidr outside the cluster
// CIDR is ignored.
func (s *cidrSet) occupy(cidr *net.IPNet) {
	s.mark(cidr, true)
}

// release frees every subnet cidr covers.
func (s *cidrSet) release(cidr *net.IPNet) {
	s.mark(cidr, false)
}

func (s *cidrSet) mark(cidr *net.IPNet, used bool) {
	first, last, ok := s.indexRange(cidr)
	if !ok {
		return
	}
	for i := first; i <= last; i++ {
		if s.used[i] != used {
			s.used[i] = used
			if used {
				s.inUse++
			} else {
				s.inUse--
			}
		}
	}
}

// indexRange is the range of subnet indices cidr overlaps.
func (s *cidrSet) indexRange(cidr *net.IPNet) (int, int, bool) {
	ones, bits := cidr.Mask.Size()
	if bits != s.bits {
		return 0, 0, false
	}
	clusterOnes, _ := s.cluster.Mask.Size()
	ip := cidr.IP.Mask(cidr.Mask)
	if ones < clusterOnes {
		// Bigger than the cluster CIDR: all of it, if it contains it.
		if !cidr.Contains(s.cluster.IP) {
			return 0, 0, false
		}
		return 0, len(s.used) - 1, true
	}
	if !s.cluster.Contains(ip) {
		return 0, 0, false
	}
	first := s.index(ip)
	if ones >= s.maskSize {
		return first, first, true
	}
	return first, first + 1<<(s.maskSize-ones) - 1, true
}

func (s *cidrSet) index(ip net.IP) int {
	off := new(big.Int).Sub(ipInt(ip, s.bits), ipInt(s.cluster.IP, s.bits))
	return int(off.Rsh(off, uint(s.bits-s.maskSize)).Int64())
}

func (s *cidrSet) subnet(idx int) *net.IPNet {
	v := new(big.Int).Lsh(big.NewInt(int64(idx)), uint(s.bits-s.maskSize))
	v.Add(v, ipInt(s.cluster.IP, s.bits))
	b := v.FillBytes(make([]byte, s.bits/8))
	return &net.IPNet{IP: net.IP(b), Mask: net.CIDRMask(s.maskSize, s.bits)}
}

func ipInt(ip net.IP, bits int) *big.Int {
	if bits == 32 {
		ip = ip.To4()
	} else {
		ip = ip.To16()
	}
	return new(big.Int).SetBytes(ip)
}
