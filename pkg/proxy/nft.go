package proxy

import (
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the one nftables table (family ip) the proxy owns.
const TableName = "skiff-proxy"

// masqueradeBit marks a packet whose connection must be masqueraded in
// postrouting: it came from outside the pod network, or it is a pod reaching
// itself through its own Service (hairpin).
const masqueradeBit uint32 = 0x4000

// The table's fixed objects. Every Service port adds only chains of its own
// (svc-, int-, ext-, ep-), affinity sets, and elements of the two maps, so a
// change to one Service rewrites nothing of another's.
const (
	// mapServices sends `daddr . l4proto . dport` of every address a Service
	// answers on to its chain.
	mapServices = "service-ips"
	// mapNoEndpoints sends the same keys of Services without a ready endpoint
	// to chainReject, from the filter hooks.
	mapNoEndpoints = "no-endpoint-services"
	chainServices  = "services"
	chainReject    = "reject"
	chainFilter    = "filter-services"
)

var table = &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}

// destKeyType is the maps' key: ipv4_addr . inet_proto . inet_service, each
// field padded to a 4-byte register.
var destKeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)

// destKey is one element key of the maps.
type destKey [12]byte

func keyOf(d netip.AddrPort, p Protocol) destKey {
	var k destKey
	a := d.Addr().As4()
	copy(k[:4], a[:])
	k[4] = protoNum(p)
	k[8], k[9] = byte(d.Port()>>8), byte(d.Port())
	return k
}

func (k destKey) String() string {
	proto := "tcp"
	if k[4] == unix.IPPROTO_UDP {
		proto = "udp"
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(k[:4])), uint16(k[8])<<8|uint16(k[9])).String() + "/" + proto
}

func destMap(name string) *nftables.Set {
	return &nftables.Set{Table: table, Name: name, IsMap: true, Concatenation: true,
		KeyType: destKeyType, DataType: nftables.TypeVerdict}
}

// baseChain is one chain hooked into netfilter, with its fixed rules.
type baseChain struct {
	chain *nftables.Chain
	rules [][]expr.Any
}

// baseChains are the hooked chains and the shared chains they use. They never
// change while the proxy runs.
func baseChains() []baseChain {
	var out []baseChain
	// Shared regular chains first: the hooked ones jump to them.
	out = append(out,
		baseChain{chain: &nftables.Chain{Name: chainServices, Table: table}, rules: [][]expr.Any{
			concat(loadDestKey(), lookupVerdict(mapServices)),
		}},
		baseChain{chain: &nftables.Chain{Name: chainReject, Table: table}, rules: [][]expr.Any{
			concat(matchL4Proto(unix.IPPROTO_TCP), rejectExprs(TCP)),
			rejectExprs(UDP),
		}},
		baseChain{chain: &nftables.Chain{Name: chainFilter, Table: table}, rules: [][]expr.Any{
			concat(loadDestKey(), lookupVerdict(mapNoEndpoints)),
		}},
	)
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"nat-prerouting", nftables.ChainHookPrerouting}, {"nat-output", nftables.ChainHookOutput}} {
		out = append(out, baseChain{
			chain: &nftables.Chain{Name: h.name, Table: table, Type: nftables.ChainTypeNAT,
				Hooknum: h.hook, Priority: nftables.ChainPriorityNATDest},
			rules: [][]expr.Any{verdict(expr.VerdictJump, chainServices)},
		})
	}
	out = append(out, baseChain{
		chain: &nftables.Chain{Name: "nat-postrouting", Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
		// fully-random, as upstream: with many connections from one source the
		// kernel need not search for a free port.
		rules: [][]expr.Any{concat(markHasBit(), []expr.Any{&expr.Masq{FullyRandom: true}})},
	})
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"filter-input", nftables.ChainHookInput}, {"filter-forward", nftables.ChainHookForward}, {"filter-output", nftables.ChainHookOutput}} {
		out = append(out, baseChain{
			chain: &nftables.Chain{Name: h.name, Table: table, Type: nftables.ChainTypeFilter,
				Hooknum: h.hook, Priority: nftables.ChainPriorityFilter},
			rules: [][]expr.Any{verdict(expr.VerdictJump, chainFilter)},
		})
	}
	return out
}

// loadDestKey puts `ip daddr . meta l4proto . th dport` in registers 1, 9
// and 10 (the 32-bit registers that follow one another), as nft does for a
// concatenation.
func loadDestKey() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

func lookupVerdict(set string) []expr.Any {
	return []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: set, IsDestRegSet: true, DestRegister: 0}}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func verdict(kind expr.VerdictKind, chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: kind, Chain: chain}}
}

// matchAddr matches the IPv4 address at offset 12 (saddr) or 16 (daddr).
func matchAddr(offset uint32, ip netip.Addr) []expr.Any {
	a := ip.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

// matchSaddrIn is `ip saddr n` (or `ip saddr != n` when negated).
func matchSaddrIn(n *net.IPNet, negated bool) []expr.Any {
	ones, bits := n.Mask.Size()
	if bits == 128 {
		ones -= 96
	}
	mask := net.CIDRMask(ones, 32)
	op := expr.CmpOpEq
	if negated {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(mask), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(n.IP.To4().Mask(mask))},
	}
}

// matchLocalSource is `fib saddr type local`: the packet comes from this node
// itself.
func matchLocalSource() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func matchL4Proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func protoNum(p Protocol) byte {
	if p == UDP {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

// rejectExprs answers TCP with a reset and UDP with port-unreachable, so
// clients fail at once instead of timing out.
func rejectExprs(p Protocol) []expr.Any {
	if p == TCP {
		return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}
	}
	return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3 /* port unreachable */}}
}

// setMarkBit is `meta mark set meta mark | masqueradeBit`.
func setMarkBit() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^masqueradeBit),
			Xor:  binaryutil.NativeEndian.PutUint32(masqueradeBit)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// markHasBit is `meta mark & masqueradeBit != 0`.
func markHasBit() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(masqueradeBit),
			Xor:  []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func dnat(ep Endpoint) []expr.Any {
	a := ep.IP.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(ep.Port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
			RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}
