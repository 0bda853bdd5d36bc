package proxy

import (
	"fmt"
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

const (
	chainServices = "services"
	chainReject   = "reject-services"
)

var table = &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}

// ruleset writes the complete table for m into c's batch. The batch first
// deletes the old table, so one Flush replaces everything atomically: the
// kernel commits a netfilter transaction as a whole, and packets see either
// the old rules or the new ones.
type ruleset struct {
	c           *nftables.Conn
	nodeIPs     []netip.Addr
	clusterCIDR *net.IPNet
}

func (r *ruleset) write(m Model) error {
	c := r.c
	// Add before delete so the delete cannot fail on a first run.
	c.AddTable(table)
	c.DelTable(table)
	c.AddTable(table)

	services := c.AddChain(&nftables.Chain{Name: chainServices, Table: table})
	reject := c.AddChain(&nftables.Chain{Name: chainReject, Table: table})

	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"nat-prerouting", nftables.ChainHookPrerouting}, {"nat-output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Name: h.name, Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: h.hook, Priority: nftables.ChainPriorityNATDest})
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: verdict(expr.VerdictJump, chainServices)})
	}
	post := c.AddChain(&nftables.Chain{Name: "nat-postrouting", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: table, Chain: post, Exprs: concat(
		markHasBit(), []expr.Any{&expr.Masq{}})})

	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"filter-input", nftables.ChainHookInput}, {"filter-forward", nftables.ChainHookForward}, {"filter-output", nftables.ChainHookOutput}} {
		ch := c.AddChain(&nftables.Chain{Name: h.name, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: h.hook, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: verdict(expr.VerdictJump, chainReject)})
	}

	for _, sp := range m.Services {
		dests := r.destinations(sp)
		if len(sp.Endpoints) == 0 {
			for _, d := range dests {
				c.AddRule(&nftables.Rule{Table: table, Chain: reject, Exprs: concat(
					matchDest(d, sp.Protocol), rejectExprs(sp.Protocol))})
			}
			continue
		}
		svcChain, err := r.writeServiceChain(sp)
		if err != nil {
			return err
		}
		for _, d := range dests {
			c.AddRule(&nftables.Rule{Table: table, Chain: services, Exprs: concat(
				matchDest(d, sp.Protocol), verdict(expr.VerdictGoto, svcChain))})
		}
	}
	return nil
}

// destinations lists every address:port a service port answers on.
func (r *ruleset) destinations(sp ServicePort) []netip.AddrPort {
	d := []netip.AddrPort{netip.AddrPortFrom(sp.ClusterIP, sp.Port)}
	for _, ip := range sp.ExternalIPs {
		d = append(d, netip.AddrPortFrom(ip, sp.Port))
	}
	if sp.NodePort != 0 {
		for _, ip := range r.nodeIPs {
			d = append(d, netip.AddrPortFrom(ip, sp.NodePort))
		}
	}
	return d
}

// writeServiceChain picks one endpoint uniformly at random: rule i takes the
// packet with probability 1/(N-i) of what is left, which needs no map and
// keeps each endpoint's chain readable in `nft list`.
func (r *ruleset) writeServiceChain(sp ServicePort) (string, error) {
	c := r.c
	name := "svc-" + sp.String()
	ch := c.AddChain(&nftables.Chain{Name: name, Table: table})
	if r.clusterCIDR != nil {
		// Traffic from outside the pod network must come back through this node.
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: concat(
			matchSaddrNotIn(r.clusterCIDR), setMarkBit())})
	} else {
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: setMarkBit()})
	}
	n := len(sp.Endpoints)
	var pickRules [][]expr.Any
	for i, ep := range sp.Endpoints {
		epChain := fmt.Sprintf("ep-%s/%s/%d", sp.String(), ep.IP, ep.Port)
		ec := c.AddChain(&nftables.Chain{Name: epChain, Table: table})
		var remember []expr.Any
		if sp.AffinityTimeout > 0 {
			// Clients seen here in the last timeout go straight back here.
			set := &nftables.Set{Table: table, Name: "affinity-" + epChain[len("ep-"):],
				KeyType: nftables.TypeIPAddr, HasTimeout: true, Dynamic: true, Timeout: sp.AffinityTimeout}
			if err := c.AddSet(set, nil); err != nil {
				return "", fmt.Errorf("affinity set for %s: %w", sp, err)
			}
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
				&expr.Verdict{Kind: expr.VerdictGoto, Chain: epChain},
			}})
			remember = []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Dynset{SrcRegKey: 1, SetName: set.Name, SetID: set.ID, Operation: unix.NFT_DYNSET_OP_UPDATE},
			}
		}
		// Hairpin: a pod reaching itself needs its source rewritten, or the
		// reply would never pass back through the NAT.
		c.AddRule(&nftables.Rule{Table: table, Chain: ec, Exprs: concat(
			matchAddr(12, ep.IP), setMarkBit())})
		c.AddRule(&nftables.Rule{Table: table, Chain: ec, Exprs: concat(remember, dnat(ep))})

		var pick []expr.Any
		if i < n-1 {
			pick = []expr.Any{
				&expr.Numgen{Register: 1, Modulus: uint32(n - i), Type: unix.NFT_NG_RANDOM},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
			}
		}
		pickRules = append(pickRules, concat(pick, verdict(expr.VerdictGoto, epChain)))
	}
	// The random pick comes after every affinity lookup.
	for _, e := range pickRules {
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: e})
	}
	return name, nil
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

func matchSaddrNotIn(n *net.IPNet) []expr.Any {
	ones, bits := n.Mask.Size()
	if bits == 128 {
		ones -= 96
	}
	mask := net.CIDRMask(ones, 32)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(mask), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte(n.IP.To4().Mask(mask))},
	}
}

func protoNum(p Protocol) byte {
	if p == UDP {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

// matchDest is `ip daddr A meta l4proto P th dport N`.
func matchDest(d netip.AddrPort, p Protocol) []expr.Any {
	return concat(matchAddr(16, d.Addr()), []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNum(p)}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(d.Port())},
	})
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
