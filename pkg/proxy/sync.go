package proxy

import (
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// programmed is one service port as it stands in the table.
type programmed struct {
	sp ServicePort
	fp footprint
}

// syncStats counts what one sync wrote, so tests and benchmarks can tell an
// incremental sync from a full one.
type syncStats struct {
	Full bool
	// Changed is the number of service ports added, changed or removed.
	Changed int
	// Chains is the number of regular chains (re)written.
	Chains int
}

// batch writes one netlink transaction. The kernel commits it as a whole:
// packets see either the old rules or the new ones.
type batch struct {
	c *nftables.Conn
	r *renderer
	syncStats
}

// full brings a table in any state (absent, left by an earlier run of the
// proxy, or by an older version of it) to m without deleting it: chains are
// flushed and refilled, only chains and sets m does not want are deleted, and
// affinity sets that m still wants keep their entries. Conntrack keeps the
// flows the old rules NATed.
func (b *batch) full(m Model) (map[string]programmed, error) {
	c := b.c
	b.Full = true
	chains, sets, err := existing(c)
	if err != nil {
		return nil, err
	}
	state, renders := b.renderAll(m)

	c.AddTable(table)
	base := baseChains()
	isBase := map[string]bool{}
	for _, bc := range base {
		isBase[bc.chain.Name] = true
	}
	// Drop every reference to the chains and sets about to go: flush the
	// maps and every chain.
	for _, name := range []string{mapServices, mapNoEndpoints} {
		if _, ok := sets[name]; ok {
			c.FlushSet(destMap(name))
		}
	}
	for name := range chains {
		c.FlushChain(&nftables.Chain{Name: name, Table: table})
	}
	wanted := map[string]bool{}
	wantedSets := map[string]affinitySet{}
	for _, r := range renders {
		for _, ch := range r.chains {
			wanted[ch] = true
		}
		for _, s := range r.sets {
			wantedSets[s.name] = s
		}
	}
	for name := range chains {
		if !wanted[name] && !isBase[name] {
			c.DelChain(&nftables.Chain{Name: name, Table: table})
		}
	}
	for name, s := range sets {
		if name == mapServices || name == mapNoEndpoints {
			continue
		}
		if w, ok := wantedSets[name]; !ok || w.timeout != s.Timeout {
			c.DelSet(&nftables.Set{Table: table, Name: name})
			continue
		}
		delete(wantedSets, name) // kept, with its entries
	}
	for _, name := range []string{mapServices, mapNoEndpoints} {
		if err := c.AddSet(destMap(name), nil); err != nil {
			return nil, err
		}
	}
	for _, s := range wantedSets {
		if err := addAffinitySet(c, s); err != nil {
			return nil, err
		}
	}
	// Shared chains before the hooked ones that jump to them.
	for _, bc := range base {
		c.AddChain(bc.chain)
		for _, e := range bc.rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: bc.chain, Exprs: e})
		}
	}
	for _, r := range renders {
		b.addChains(r)
	}
	for _, r := range renders {
		if err := b.addElements(r.footprint, nil); err != nil {
			return nil, err
		}
	}
	b.Changed = len(renders)
	return state, nil
}

// rebuild replaces the table with a new one in one transaction: the way out
// when full cannot reconcile what it finds (a hooked chain of another
// priority, say). Affinity entries are lost; established flows are not.
func (b *batch) rebuild(m Model) (map[string]programmed, error) {
	c := b.c
	b.Full = true
	c.AddTable(table) // so the delete cannot fail on a first run
	c.DelTable(table)
	c.AddTable(table)
	state, renders := b.renderAll(m)
	for _, name := range []string{mapServices, mapNoEndpoints} {
		if err := c.AddSet(destMap(name), nil); err != nil {
			return nil, err
		}
	}
	for _, bc := range baseChains() {
		c.AddChain(bc.chain)
		for _, e := range bc.rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: bc.chain, Exprs: e})
		}
	}
	for _, r := range renders {
		for _, s := range r.sets {
			if err := addAffinitySet(c, s); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range renders {
		b.addChains(r)
	}
	for _, r := range renders {
		if err := b.addElements(r.footprint, nil); err != nil {
			return nil, err
		}
	}
	b.Changed = len(renders)
	return state, nil
}

func (b *batch) renderAll(m Model) (map[string]programmed, []rendered) {
	state := make(map[string]programmed, len(m.Services))
	owner := map[destKey]bool{}
	taken := func(k destKey) bool { return owner[k] }
	renders := make([]rendered, 0, len(m.Services))
	for _, sp := range m.Services {
		r := b.r.render(sp, taken)
		for k := range r.dispatch {
			owner[k] = true
		}
		for _, k := range r.reject {
			owner[k] = true
		}
		renders = append(renders, r)
		state[sp.String()] = programmed{sp: sp, fp: r.footprint}
	}
	return state, renders
}

// incremental rewrites only the service ports that differ from old: their
// chains, their map elements, and the affinity sets of endpoints that came or
// went. Everything else, affinity entries included, is left as it is.
func (b *batch) incremental(old map[string]programmed, m Model) (map[string]programmed, error) {
	c := b.c
	next := make(map[string]programmed, len(m.Services))
	type change struct {
		old *footprint
		new *rendered
	}
	var changes []change
	owners := map[destKey]string{}
	var changed []ServicePort
	for _, sp := range m.Services {
		key := sp.String()
		if o, ok := old[key]; ok && o.sp.equal(sp) {
			next[key] = o
			for k := range o.fp.dispatch {
				owners[k] = key
			}
			for _, k := range o.fp.reject {
				owners[k] = key
			}
			continue
		}
		changed = append(changed, sp)
	}
	for _, sp := range changed {
		key := sp.String()
		r := b.r.render(sp, func(k destKey) bool { o, ok := owners[k]; return ok && o != key })
		for k := range r.dispatch {
			owners[k] = key
		}
		for _, k := range r.reject {
			owners[k] = key
		}
		next[key] = programmed{sp: sp, fp: r.footprint}
		ch := change{new: &r}
		if o, ok := old[key]; ok {
			ch.old = &o.fp
		}
		changes = append(changes, ch)
	}
	for key, o := range old {
		if _, ok := next[key]; !ok {
			changes = append(changes, change{old: &o.fp})
		}
	}
	b.Changed = len(changes)
	if len(changes) == 0 {
		return next, nil
	}
	empty := &rendered{footprint: footprint{dispatch: map[destKey]string{}}}
	for i := range changes {
		if changes[i].old == nil {
			changes[i].old = &empty.footprint
		}
		if changes[i].new == nil {
			changes[i].new = empty
		}
	}
	// 1. Drop the references: old map elements and the old chains' rules.
	for _, ch := range changes {
		if err := b.delElements(*ch.old, ch.new.footprint); err != nil {
			return nil, err
		}
		for _, name := range ch.old.chains {
			c.FlushChain(&nftables.Chain{Name: name, Table: table})
		}
	}
	// 2. Delete what is no longer wanted.
	for _, ch := range changes {
		for _, name := range ch.old.chains {
			if !slices.Contains(ch.new.chains, name) {
				c.DelChain(&nftables.Chain{Name: name, Table: table})
			}
		}
		for _, s := range ch.old.sets {
			if !slices.Contains(ch.new.sets, s) {
				c.DelSet(&nftables.Set{Table: table, Name: s.name})
			}
		}
	}
	// 3. Create the new sets and chains, then fill them.
	for _, ch := range changes {
		for _, s := range ch.new.sets {
			if !slices.Contains(ch.old.sets, s) {
				if err := addAffinitySet(c, s); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, ch := range changes {
		b.addChains(*ch.new)
	}
	for _, ch := range changes {
		if err := b.addElements(ch.new.footprint, ch.old); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// addChains creates r's chains and their rules; the chains first, since
// rules jump from one to another.
func (b *batch) addChains(r rendered) {
	chains := make([]*nftables.Chain, len(r.specs))
	for i, s := range r.specs {
		chains[i] = b.c.AddChain(&nftables.Chain{Name: s.name, Table: table})
	}
	for i, s := range r.specs {
		for _, e := range s.rules {
			b.c.AddRule(&nftables.Rule{Table: table, Chain: chains[i], Exprs: e})
		}
	}
	b.Chains += len(r.specs)
}

// addElements adds fp's map elements that old (nil: none) does not hold
// already with the same verdict.
func (b *batch) addElements(fp footprint, old *footprint) error {
	var svc, rej []nftables.SetElement
	for k, chain := range fp.dispatch {
		if old != nil && old.dispatch[k] == chain {
			continue
		}
		svc = append(svc, nftables.SetElement{Key: k[:], VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}})
	}
	for _, k := range fp.reject {
		if old != nil && containsKey(old.reject, k) {
			continue
		}
		rej = append(rej, nftables.SetElement{Key: k[:], VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: chainReject}})
	}
	if len(svc) > 0 {
		if err := b.c.SetAddElements(destMap(mapServices), svc); err != nil {
			return err
		}
	}
	if len(rej) > 0 {
		return b.c.SetAddElements(destMap(mapNoEndpoints), rej)
	}
	return nil
}

// delElements deletes old's map elements that next does not hold with the
// same verdict (a map refuses a second verdict for a key it has).
func (b *batch) delElements(old, next footprint) error {
	var svc, rej []nftables.SetElement
	for k, chain := range old.dispatch {
		if next.dispatch[k] != chain {
			svc = append(svc, nftables.SetElement{Key: k[:]})
		}
	}
	for _, k := range old.reject {
		if !containsKey(next.reject, k) {
			rej = append(rej, nftables.SetElement{Key: k[:]})
		}
	}
	if len(svc) > 0 {
		if err := b.c.SetDeleteElements(destMap(mapServices), svc); err != nil {
			return err
		}
	}
	if len(rej) > 0 {
		return b.c.SetDeleteElements(destMap(mapNoEndpoints), rej)
	}
	return nil
}

func addAffinitySet(c *nftables.Conn, s affinitySet) error {
	set := &nftables.Set{Table: table, Name: s.name, KeyType: nftables.TypeIPAddr,
		HasTimeout: true, Dynamic: true, Timeout: s.timeout}
	if err := c.AddSet(set, nil); err != nil {
		return fmt.Errorf("affinity set %s: %w", s.name, err)
	}
	return nil
}

// existing reads the chains and sets the table holds now; none when it does
// not exist.
func existing(c *nftables.Conn) (map[string]bool, map[string]*nftables.Set, error) {
	chains := map[string]bool{}
	sets := map[string]*nftables.Set{}
	all, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, nil, fmt.Errorf("listing nftables chains: %w", err)
	}
	for _, ch := range all {
		if ch.Table != nil && ch.Table.Name == TableName {
			chains[ch.Name] = true
		}
	}
	s, err := c.GetSets(table)
	if err != nil {
		if len(chains) == 0 {
			return chains, sets, nil // no table yet
		}
		return nil, nil, fmt.Errorf("listing nftables sets of %q: %w", TableName, err)
	}
	for _, x := range s {
		sets[x.Name] = x
	}
	return chains, sets, nil
}
