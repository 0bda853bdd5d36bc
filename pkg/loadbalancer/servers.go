package loadbalancer

import (
	"errors"
	"net"
	"slices"
	"syscall"
)

// health is what the last connects to a server said.
type health struct {
	down bool // the last connect failed
	good int  // connects in a row that succeeded
	// failedChecks is the health checks in a row that failed (any connect
	// that succeeds ends the row); at deadAfterFailedChecks the server's
	// connections are closed.
	failedChecks int
}

// SetServers replaces the servers balanced over ("host:port" each, e.g. the
// kubernetes Service's endpoints). The current server stays current if it is
// still listed, so connections are not moved for nothing; connections to a
// server no longer listed are closed so that their clients reconnect through
// the balancer to a listed one (the API server drops from the endpoints a
// server that stopped renewing its lease, which may still accept connections).
//
// The address the agent joined with is never dropped. Listed, it is preferred
// and dialed first. Unlisted, it is dialed after the listed servers (before
// those known to be down, to spare a client their dial timeouts), and left
// once a listed one is healthy again: a way back should the list go stale,
// and what a joined address that is a DNS name or virtual IP in front of the
// servers is for.
//
// An empty list is ignored, as a transient state of the endpoints rather than
// a cluster without servers; malformed addresses are logged and skipped.
func (lb *LoadBalancer) SetServers(servers []string) {
	addrs, bad := cleanAddrs(servers)
	if len(bad) > 0 {
		lb.log.Warn("ignoring malformed API server addresses", "addresses", bad)
	}
	if len(addrs) == 0 {
		lb.log.Warn("ignoring an empty API server list", "keeping", lb.Servers())
		return
	}
	joinedListed := false
	if i := slices.Index(addrs, lb.joined); i >= 0 {
		joinedListed = true
		addrs = append([]string{lb.joined}, slices.Delete(addrs, i, i+1)...)
	} else {
		addrs = append(addrs, lb.joined)
	}

	lb.mu.Lock()
	if joinedListed == lb.joinedListed && slices.Equal(addrs, lb.servers) {
		lb.mu.Unlock()
		return
	}
	known := make(map[string]*health, len(addrs))
	for _, a := range addrs {
		if h := lb.health[a]; h != nil {
			known[a] = h
		} else {
			known[a] = &health{}
		}
	}
	// Unlisted now: what is not in addrs, and the joined address if it was
	// listed and is not any more (connections to it as the fallback stay).
	unlisted := func(a string) bool {
		return known[a] == nil || (a == lb.joined && lb.joinedListed && !joinedListed)
	}
	var gone []*proxied
	for p := range lb.conns {
		if unlisted(p.server) {
			gone = append(gone, p)
		}
	}
	moveOff := unlisted(lb.current)
	lb.servers, lb.health, lb.joinedListed = addrs, known, joinedListed
	lb.log.Info("API servers", "servers", addrs, "closing", len(gone))
	if moveOff {
		lb.switchTo(lb.pick(), "no longer listed")
	}
	lb.mu.Unlock()
	closeConns(gone)
}

// Servers is the dial order (the current server is tried before it).
func (lb *LoadBalancer) Servers() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return slices.Clone(lb.servers)
}

// dialOrder is the current server, then the others not known to be down,
// then those that are (the marks may be stale: better a slow answer than
// none).
func (lb *LoadBalancer) dialOrder() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	order := make([]string, 0, len(lb.servers))
	order = append(order, lb.current)
	for _, down := range []bool{false, true} {
		for _, a := range lb.servers {
			if a != lb.current && lb.health[a].down == down {
				order = append(order, a)
			}
		}
	}
	return order
}

// failed marks addr down after a connect to it failed, so that new
// connections go elsewhere, and moves off it if it was current. It leaves
// the connections proxied to it alone: one connect that failed (a lost SYN
// under a reconnect storm) says little, and closing would drop every watch of
// the node; the health checks close them once the server is dead (see
// checkFailed). It returns the health of addr, nil if no longer listed.
// lb.mu is held.
func (lb *LoadBalancer) failed(addr string, err error) *health {
	h := lb.health[addr]
	if h == nil {
		return nil
	}
	h.good = 0
	if !h.down {
		h.down = true
		lb.log.Warn("API server unreachable", "server", addr, "err", err)
	}
	if addr == lb.current {
		if next := lb.pick(); next != addr {
			lb.switchTo(next, "unreachable")
		}
	}
	return h
}

// localError reports an error that says nothing about the server dialed:
// this host is out of descriptors, buffers or ports for now, and would fail
// a connect to any server. ENETUNREACH and the like are not among them: the
// server cannot be reached, and neither can its established connections.
func localError(err error) bool {
	for _, local := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL, syscall.ENOBUFS} {
		if errors.Is(err, local) {
			return true
		}
	}
	return false
}

// up records a successful connect to addr: it becomes current if the current
// server is down. Once it has answered FailbackChecks times in a row, the
// joined server (if listed) becomes current again, and a listed server
// replaces the joined one serving as the last resort. Connections elsewhere
// stay where they are. lb.mu is held.
func (lb *LoadBalancer) up(addr string) {
	h := lb.health[addr]
	if h == nil {
		return
	}
	h.good++
	h.failedChecks = 0
	lb.unreachable = false
	if h.down {
		h.down = false
		lb.log.Info("API server reachable again", "server", addr)
	}
	if addr == lb.current {
		return
	}
	switch cur := lb.health[lb.current]; {
	case cur == nil || cur.down:
		lb.switchTo(addr, "current unreachable")
	case h.good < lb.opts.FailbackChecks:
	case lb.joinedListed && addr == lb.joined:
		lb.switchTo(addr, "joined server healthy again")
	case !lb.joinedListed && lb.current == lb.joined:
		lb.switchTo(addr, "listed server healthy again")
	}
}

// pick is the first server not known to be down, else the first. lb.mu is
// held.
func (lb *LoadBalancer) pick() string {
	for _, a := range lb.servers {
		if !lb.health[a].down {
			return a
		}
	}
	return lb.servers[0]
}

// switchTo makes addr current, logging the switch. lb.mu is held.
func (lb *LoadBalancer) switchTo(addr, reason string) {
	if addr == lb.current {
		return
	}
	lb.log.Info("switching API server", "from", lb.current, "to", addr, "reason", reason)
	lb.current = addr
}

// cleanAddrs drops duplicates and sorts out what is not host:port.
func cleanAddrs(servers []string) (addrs, bad []string) {
	for _, s := range servers {
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || port == "" {
			bad = append(bad, s)
			continue
		}
		if !slices.Contains(addrs, s) {
			addrs = append(addrs, s)
		}
	}
	return addrs, bad
}
