package servicelb

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/netip"
	"sync"
)

// errPoolExhausted says every address of the pool is held by a Service.
var errPoolExhausted = errors.New("no free address")

// pool hands out the addresses of --lb-pool, one per Service, never two
// Services the same one. It keeps no state of its own beyond memory: what is
// taken is re-read from the Services' status when the controller starts.
type pool struct {
	prefix      netip.Prefix
	first, last netip.Addr
	size        uint64 // usable addresses, saturating

	mu     sync.Mutex
	byAddr map[netip.Addr]string // address -> Service key
	byKey  map[string]netip.Addr
	next   netip.Addr // where the search for a free address starts
}

func newPool(n *net.IPNet) (*pool, error) {
	if n == nil {
		return nil, errors.New("no pool")
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	ones, bits := n.Mask.Size()
	if !ok || bits == 0 {
		return nil, fmt.Errorf("load balancer pool %v: not a CIDR", n)
	}
	ip = ip.Unmap()
	if ip.BitLen() != bits {
		return nil, fmt.Errorf("load balancer pool %v: mask does not fit the address", n)
	}
	prefix := netip.PrefixFrom(ip, ones).Masked()
	host := bits - ones
	first := prefix.Addr()
	last := addAddr(first, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(host)), big.NewInt(1)))
	// Leave out the network address (and IPv4's broadcast address) where the
	// prefix has room for hosts besides them.
	if host >= 2 {
		first = first.Next()
		if ip.Is4() {
			last = last.Prev()
		}
	}
	span := new(big.Int).Sub(new(big.Int).SetBytes(last.AsSlice()), new(big.Int).SetBytes(first.AsSlice()))
	span.Add(span, big.NewInt(1))
	size := uint64(math.MaxUint64)
	if span.IsUint64() {
		size = span.Uint64()
	}
	return &pool{
		prefix: prefix, first: first, last: last, size: size,
		byAddr: map[netip.Addr]string{}, byKey: map[string]netip.Addr{}, next: first,
	}, nil
}

func addAddr(a netip.Addr, n *big.Int) netip.Addr {
	b := a.AsSlice()
	v := new(big.Int).SetBytes(b)
	v.Add(v, n)
	out := v.FillBytes(make([]byte, len(b)))
	r, _ := netip.AddrFromSlice(out)
	return r
}

func (p *pool) String() string { return p.prefix.String() }

// contains reports whether a is one of the pool's usable addresses.
func (p *pool) contains(a netip.Addr) bool {
	return a.IsValid() && a.BitLen() == p.first.BitLen() && a.Compare(p.first) >= 0 && a.Compare(p.last) <= 0
}

// held is the address the Service holds, if any.
func (p *pool) held(key string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.byKey[key]
	return a, ok
}

// claim gives a to the Service if it is a pool address and nobody else holds
// it; the Service gives up any other address it held. It reports whether the
// Service now holds a.
func (p *pool) claim(key string, a netip.Addr) bool {
	if !p.contains(a) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if owner, taken := p.byAddr[a]; taken {
		return owner == key
	}
	p.releaseLocked(key)
	p.byAddr[a] = key
	p.byKey[key] = a
	return true
}

// allocate returns the address the Service holds, or gives it the next free one.
func (p *pool) allocate(key string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.byKey[key]; ok {
		return a, nil
	}
	if uint64(len(p.byAddr)) >= p.size {
		return netip.Addr{}, fmt.Errorf("%w in pool %s", errPoolExhausted, p.prefix)
	}
	// Among any len(byAddr)+1 consecutive addresses one is free: the search
	// is bounded by what is taken, not by the size of the pool.
	a := p.next
	for range len(p.byAddr) + 1 {
		if !p.contains(a) {
			a = p.first
		}
		if _, taken := p.byAddr[a]; !taken {
			p.byAddr[a] = key
			p.byKey[key] = a
			p.next = a.Next()
			return a, nil
		}
		a = a.Next()
	}
	return netip.Addr{}, fmt.Errorf("%w in pool %s", errPoolExhausted, p.prefix)
}

// release frees the Service's address; it reports whether it held one.
func (p *pool) release(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.releaseLocked(key)
}

func (p *pool) releaseLocked(key string) bool {
	a, ok := p.byKey[key]
	if !ok {
		return false
	}
	delete(p.byKey, key)
	delete(p.byAddr, a)
	return true
}
