package dns

import (
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// The forwarder's cache: small, bounded, and short-lived, as a node-local
// cache in front of the node's resolvers should be.
const (
	cacheEntries = 10000
	// maxCacheTTL caps how long an answer is kept, whatever its TTL says
	// (CoreDNS's kubeadm configuration: cache 30).
	maxCacheTTL = 30 * time.Second
)

type cacheKey struct {
	name         string
	qtype, class uint16
	do, cd       bool
}

func keyOf(r *dns.Msg) cacheKey {
	q := r.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, class: q.Qclass, cd: r.CheckingDisabled}
	if opt := r.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k
}

type cacheEntry struct {
	msg             *dns.Msg
	stored, expires time.Time
}

// cache keeps answers for their TTL (capped), and denials (NXDOMAIN, and
// NOERROR with no answer) for the SOA's negative TTL, as RFC 2308 says; a
// denial without an SOA, a failure or a truncated answer is not kept.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]cacheEntry
	now     func() time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[cacheKey]cacheEntry), now: time.Now}
}

// get returns a copy of the kept answer with id, its TTLs aged, or nil.
func (c *cache) get(k cacheKey, id uint16) *dns.Msg {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	m := e.msg.Copy()
	m.Id = id
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			h.Ttl = h.Ttl - min(h.Ttl, age)
		}
	}
	return m
}

func (c *cache) put(k cacheKey, m *dns.Msg) {
	keep := keepFor(m)
	if keep <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[k] = cacheEntry{msg: m.Copy(), stored: now, expires: now.Add(keep)}
}

// evict makes room: the expired entries, else a tenth of the rest in the
// map's own (random) order.
func (c *cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	drop := c.max / 10
	for k := range c.entries {
		if len(c.entries) < c.max-drop {
			return
		}
		delete(c.entries, k)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// keepFor is how long m may be kept.
func keepFor(m *dns.Msg) time.Duration {
	if m.Truncated || len(m.Question) != 1 {
		return 0
	}
	var ttl uint32
	switch {
	case m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0:
		ttl = ^uint32(0)
		for _, rr := range m.Answer {
			ttl = min(ttl, rr.Header().Ttl)
		}
	case m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError:
		soa := soaOf(m)
		if soa == nil {
			return 0
		}
		ttl = min(soa.Hdr.Ttl, soa.Minttl)
	default:
		return 0
	}
	return min(time.Duration(ttl)*time.Second, maxCacheTTL)
}

func soaOf(m *dns.Msg) *dns.SOA {
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}
