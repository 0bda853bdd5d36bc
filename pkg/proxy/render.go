package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// renderer turns one service port into its part of the table.
type renderer struct {
	nodeIPs     []netip.Addr
	clusterCIDR *net.IPNet
}

// chainSpec is a regular chain with its rules.
type chainSpec struct {
	name  string
	rules [][]expr.Any
}

// affinitySet remembers, per endpoint, the clients that used it recently.
type affinitySet struct {
	name    string
	timeout time.Duration
}

// footprint is what a service port owns in the table: enough to change or
// remove it later without reading the table back.
type footprint struct {
	chains []string
	sets   []affinitySet
	// dispatch maps each address the port answers on to the chain that
	// handles it; reject lists those of a port without endpoints.
	dispatch map[destKey]string
	reject   []destKey
}

// rendered is a footprint with the rules of its chains.
type rendered struct {
	footprint
	specs []chainSpec
}

// destinations lists the addresses a service port answers on: the ClusterIP
// one for traffic inside the cluster, and the external ones (LoadBalancer
// ingress, external IPs, NodePort on every node address).
func (r *renderer) destinations(sp ServicePort) (internal netip.AddrPort, external []netip.AddrPort) {
	for _, ip := range sp.LoadBalancerIPs {
		external = append(external, netip.AddrPortFrom(ip, sp.Port))
	}
	for _, ip := range sp.ExternalIPs {
		external = append(external, netip.AddrPortFrom(ip, sp.Port))
	}
	if sp.NodePort != 0 {
		for _, ip := range r.nodeIPs {
			external = append(external, netip.AddrPortFrom(ip, sp.NodePort))
		}
	}
	return netip.AddrPortFrom(sp.ClusterIP, sp.Port), external
}

// render builds everything sp puts in the table. taken reports keys another
// service port already owns (two Services claiming one external IP and
// port); the first keeps them, as a map holds one verdict per key.
func (r *renderer) render(sp ServicePort, taken func(destKey) bool) rendered {
	out := rendered{footprint: footprint{dispatch: map[destKey]string{}}}
	internal, external := r.destinations(sp)
	claim := func(d netip.AddrPort, chain string) {
		k := keyOf(d, sp.Protocol)
		if taken != nil && taken(k) {
			return
		}
		if _, dup := out.dispatch[k]; dup || containsKey(out.reject, k) {
			return
		}
		if chain == "" {
			out.reject = append(out.reject, k)
		} else {
			out.dispatch[k] = chain
		}
	}
	if len(sp.Endpoints) == 0 {
		claim(internal, "")
		for _, d := range external {
			claim(d, "")
		}
		return out
	}

	base := sp.chainID()
	svcChain := "svc-" + base
	var local []int
	for i, ep := range sp.Endpoints {
		if ep.Local {
			local = append(local, i)
		}
	}
	// The svc- chain spreads over every endpoint all traffic but an
	// InternalLocal port's ClusterIP one; such a port with no external
	// address needs neither it nor the chains of other nodes' endpoints.
	clusterWide := !sp.InternalLocal || len(external) > 0
	epChains := make([]string, len(sp.Endpoints))
	sets := make([]string, len(sp.Endpoints))
	var epSpecs []chainSpec
	for i, ep := range sp.Endpoints {
		epChains[i] = fmt.Sprintf("ep-%s__%s/%d", base, ep.IP, ep.Port)
		if !clusterWide && !ep.Local {
			continue
		}
		var remember []expr.Any
		if sp.AffinityTimeout > 0 {
			sets[i] = fmt.Sprintf("affinity-%s__%s/%d", base, ep.IP, ep.Port)
			out.sets = append(out.sets, affinitySet{name: sets[i], timeout: sp.AffinityTimeout})
			remember = []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Dynset{SrcRegKey: 1, SetName: sets[i], Operation: unix.NFT_DYNSET_OP_UPDATE},
			}
		}
		epSpecs = append(epSpecs, chainSpec{name: epChains[i], rules: [][]expr.Any{
			// Hairpin: a pod reaching itself needs its source rewritten, or
			// the reply would never pass back through the NAT.
			concat(matchAddr(12, ep.IP), setMarkBit()),
			concat(remember, dnat(ep)),
		}})
	}

	if clusterWide {
		svc := chainSpec{name: svcChain, rules: [][]expr.Any{r.masqueradeOutsiders()}}
		all := make([]int, len(sp.Endpoints))
		for i := range all {
			all[i] = i
		}
		svc.rules = append(svc.rules, pickRules(all, epChains, sets)...)
		out.specs = append(out.specs, svc)
	}
	if sp.InternalLocal {
		in := chainSpec{name: "int-" + base}
		if len(local) == 0 {
			// The Service is served, only not here: upstream drops, not
			// rejects, as for externalTrafficPolicy: Local.
			in.rules = append(in.rules, []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})
		} else {
			in.rules = append(in.rules, r.masqueradeOutsiders())
			in.rules = append(in.rules, pickRules(local, epChains, sets)...)
		}
		out.specs = append(out.specs, in)
		claim(internal, in.name)
	} else {
		claim(internal, svcChain)
	}

	if sp.ExternalLocal && len(external) > 0 {
		ext := chainSpec{name: "ext-" + base}
		if r.clusterCIDR != nil {
			// Pods reaching an external address are cluster traffic (as
			// upstream short-circuits them): every endpoint, source kept.
			ext.rules = append(ext.rules, concat(matchSaddrIn(r.clusterCIDR, false), verdict(expr.VerdictGoto, svcChain)))
		}
		// So is the node itself: there is no outside client to preserve.
		ext.rules = append(ext.rules, concat(matchLocalSource(), verdict(expr.VerdictGoto, svcChain)))
		if len(local) == 0 {
			// Another node has the endpoints; its load balancer health check
			// sends clients there, not here.
			ext.rules = append(ext.rules, []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})
		} else {
			ext.rules = append(ext.rules, pickRules(local, epChains, sets)...)
		}
		out.specs = append(out.specs, ext)
		for _, d := range external {
			claim(d, ext.name)
		}
	} else {
		for _, d := range external {
			claim(d, svcChain)
		}
	}
	out.specs = append(out.specs, epSpecs...)
	for _, s := range out.specs {
		out.chains = append(out.chains, s.name)
	}
	return out
}

// masqueradeOutsiders marks for masquerade the traffic from outside the pod
// network (all of it when that is unknown): its replies must come back
// through this node.
func (r *renderer) masqueradeOutsiders() []expr.Any {
	if r.clusterCIDR == nil {
		return setMarkBit()
	}
	return concat(matchSaddrIn(r.clusterCIDR, true), setMarkBit())
}

// pickRules sends a packet to one of the endpoints idx: first to the one
// whose affinity set holds its source, else uniformly at random. Rule i takes
// the packet with probability 1/(N-i) of what is left, which needs no map and
// keeps each endpoint's chain readable in `nft list`.
func pickRules(idx []int, epChains, sets []string) [][]expr.Any {
	var rules [][]expr.Any
	for _, i := range idx {
		if sets[i] == "" {
			continue
		}
		rules = append(rules, []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: sets[i]},
			&expr.Verdict{Kind: expr.VerdictGoto, Chain: epChains[i]},
		})
	}
	n := len(idx)
	for j, i := range idx {
		var pick []expr.Any
		if j < n-1 {
			pick = []expr.Any{
				&expr.Numgen{Register: 1, Modulus: uint32(n - j), Type: unix.NFT_NG_RANDOM},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
			}
		}
		rules = append(rules, concat(pick, verdict(expr.VerdictGoto, epChains[i])))
	}
	return rules
}

// chainID names sp's chains and sets in words nft reads without quotes
// (letters, digits, '/', '-', '_', '.'), so `nft list chain ip skiff-proxy
// svc-default/kubia/tcp/http` works as typed.
func (sp ServicePort) chainID() string {
	return sp.Namespace + "/" + sp.Name + "/" + string(sp.Protocol) + "/" + sp.PortName
}

func containsKey(keys []destKey, k destKey) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}
