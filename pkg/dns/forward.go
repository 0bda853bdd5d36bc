package dns

import (
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Bounds on forwarding: a resolver that does not answer in upstreamTimeout
// is skipped, and at most maxInflight names are asked at once (more are
// refused with SERVFAIL), so a flood of names cannot pile up goroutines.
const (
	upstreamTimeout  = 2 * time.Second
	maxInflight      = 1000
	resolvConfPeriod = 5 * time.Second
)

// forwarder asks the node's resolvers what the cluster does not know.
type forwarder struct {
	// fixed are the resolvers given; without them, the resolv.conf's.
	fixed      []string
	resolvConf string
	skip       []string

	mu        sync.Mutex
	upstreams []string
	checked   time.Time
	modTime   time.Time

	cache    *cache
	udp, tcp *dns.Client
	inflight chan struct{}
}

func newForwarder(fixed []string, resolvConf string, skip []string) *forwarder {
	return &forwarder{
		fixed: fixed, resolvConf: resolvConf, skip: skip,
		cache:    newCache(cacheEntries),
		udp:      &dns.Client{Net: "udp", Timeout: upstreamTimeout, UDPSize: dns.DefaultMsgSize},
		tcp:      &dns.Client{Net: "tcp", Timeout: upstreamTimeout},
		inflight: make(chan struct{}, maxInflight),
	}
}

// servers are the resolvers to ask, the resolv.conf re-read when it changed
// (a DHCP lease renewed, say), at most every resolvConfPeriod.
func (f *forwarder) servers() []string {
	if len(f.fixed) > 0 {
		return f.fixed
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); f.upstreams == nil || now.Sub(f.checked) > resolvConfPeriod {
		f.checked = now
		if st, err := os.Stat(f.resolvConf); err == nil && (f.upstreams == nil || !st.ModTime().Equal(f.modTime)) {
			f.modTime = st.ModTime()
			f.upstreams = upstreamsOf(ReadResolvConf(f.resolvConf), f.skip)
		}
		if f.upstreams == nil {
			f.upstreams = []string{}
		}
	}
	return f.upstreams
}

// resolve answers r from the cache or the first resolver that answers;
// SERVFAIL when none does.
func (f *forwarder) resolve(r *dns.Msg, overTCP bool) *dns.Msg {
	k := keyOf(r)
	if m := f.cache.get(k, r.Id); m != nil {
		return m
	}
	select {
	case f.inflight <- struct{}{}:
		defer func() { <-f.inflight }()
	default:
		return failure(r)
	}
	req := r.Copy()
	req.Id = dns.Id()
	var last *dns.Msg
	for _, u := range f.servers() {
		c := f.udp
		if overTCP {
			c = f.tcp
		}
		resp, _, err := c.Exchange(req, u)
		if err == nil && resp.Truncated && !overTCP {
			// Ask again over TCP for the whole answer, to keep it; the
			// client still gets what fits its UDP size.
			if full, _, err := f.tcp.Exchange(req, u); err == nil {
				resp = full
			}
		}
		if err != nil || resp == nil {
			continue
		}
		resp.Id = r.Id
		if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			last = resp
			continue
		}
		f.cache.put(k, resp)
		return resp
	}
	if last != nil {
		return last
	}
	return failure(r)
}

func failure(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}
