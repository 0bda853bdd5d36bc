package hollow

import (
	"errors"
	"fmt"
	"net/netip"
)

// errNoPodIPs: every address of the node's podCIDR is taken.
var errNoPodIPs = errors.New("no free pod IP")

// maxPoolSize bounds the addresses a pool hands out, so a large IPv6 podCIDR
// does not need a large table.
const maxPoolSize = 1 << 16

// ipPool hands out the addresses of one podCIDR sequentially, as host-local
// IPAM does: the network address and the first host (the bridge's gateway) are
// skipped, and a released address is handed out again only after the cursor has
// gone round, so a new pod rarely reuses a recent pod's address.
type ipPool struct {
	prefix netip.Prefix
	first  uint64 // offset of the first address handed out
	size   uint64 // offsets first..size-1 are handed out
	next   uint64
	used   map[uint64]string // offset -> pod key
}

func newIPPool(cidr string) (*ipPool, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("podCIDR %q: %w", cidr, err)
	}
	prefix = prefix.Masked()
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	size := uint64(maxPoolSize)
	if hostBits < 17 {
		size = uint64(1) << hostBits
		if prefix.Addr().Is4() {
			size-- // the broadcast address
		}
	}
	if size <= 2 {
		return nil, fmt.Errorf("podCIDR %q is too small for pods", cidr)
	}
	return &ipPool{prefix: prefix, first: 2, size: size, next: 2, used: map[uint64]string{}}, nil
}

// allocate gives key the next free address.
func (p *ipPool) allocate(key string) (netip.Addr, error) {
	span := p.size - p.first
	for i := uint64(0); i < span; i++ {
		off := p.first + (p.next-p.first+i)%span
		if _, taken := p.used[off]; !taken {
			p.used[off] = key
			p.next = off + 1
			if p.next >= p.size {
				p.next = p.first
			}
			return addOffset(p.prefix.Addr(), off), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("podCIDR %s: %w", p.prefix, errNoPodIPs)
}

// reserve marks addr as key's, when addr is one the pool hands out and is free
// (or already key's). It reports whether key now holds addr.
func (p *ipPool) reserve(addr netip.Addr, key string) bool {
	off, ok := p.offset(addr)
	if !ok {
		return false
	}
	if owner, taken := p.used[off]; taken && owner != key {
		return false
	}
	p.used[off] = key
	return true
}

// release frees addr if key holds it.
func (p *ipPool) release(addr netip.Addr, key string) {
	if off, ok := p.offset(addr); ok && p.used[off] == key {
		delete(p.used, off)
	}
}

func (p *ipPool) contains(addr netip.Addr) bool {
	_, ok := p.offset(addr)
	return ok
}

func (p *ipPool) offset(addr netip.Addr) (uint64, bool) {
	if !p.prefix.Contains(addr) {
		return 0, false
	}
	a, base := addr.As16(), p.prefix.Addr().As16()
	var off uint64
	for i := 8; i < 16; i++ {
		off = off<<8 | uint64(a[i]-base[i]) // base has zero host bits: no borrow
	}
	for i := 0; i < 8; i++ {
		if a[i] != base[i] {
			return 0, false // beyond any pool size
		}
	}
	if off < p.first || off >= p.size {
		return 0, false
	}
	return off, true
}

// addOffset is base+off (off < 2^64).
func addOffset(base netip.Addr, off uint64) netip.Addr {
	b := base.As16()
	carry := off
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := uint64(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	out := netip.AddrFrom16(b)
	if base.Is4() {
		out = out.Unmap()
	}
	return out
}
