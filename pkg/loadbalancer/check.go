package loadbalancer

import (
	"context"
	"sync"
	"time"
)

// deadAfterFailedChecks is how many health checks in a row a server must
// fail before the connections proxied to it are closed (a watch on a killed
// machine sees no FIN and would otherwise wait for keepalive, 30s). One
// failed connect is not enough: a lost SYN and its retry, under the reconnect
// storm of a failover, exceed the dial timeout of a live server, and closing
// on it would drop every watch of the node. Checks start every
// max(CheckInterval, DialTimeout) (the ticker drops the ticks of a round that
// ran long), so a server that dies just after passing a check has its
// connections closed at worst CheckInterval + (N-1)×max(CheckInterval,
// DialTimeout) + DialTimeout later: 8s with the defaults, 6s when its
// connects are refused rather than timing out.
const deadAfterFailedChecks = 3

// check connects to every listed server each CheckInterval until ctx ends.
// A server that does not answer is marked down at once, and its connections
// closed once it has failed deadAfterFailedChecks checks in a row, before
// clients notice; the joined server is failed back to once it has answered
// FailbackChecks times in a row.
//
// A check is a TCP connect, closed at once: it proves the port is open, not
// that the API server behind it is ready, which is why failback waits for
// several.
func (lb *LoadBalancer) check(ctx context.Context) {
	t := time.NewTicker(lb.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lb.checkOnce(ctx)
	}
}

func (lb *LoadBalancer) checkOnce(ctx context.Context) {
	servers := lb.Servers()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, addr := range servers {
		wg.Go(func() {
			c, err := lb.connect(ctx, addr)
			if err == nil {
				c.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	// In list order, so that moving off a dead current server lands on the
	// first live one.
	for i, addr := range servers {
		switch err := errs[i]; {
		case err == nil:
			lb.mu.Lock()
			lb.up(addr)
			lb.mu.Unlock()
		case localError(err):
			// Neither a failure of the server nor a success: the count
			// of failures in a row goes on after it.
			lb.log.Debug("health check failed on this host", "server", addr, "err", err)
		default:
			lb.checkFailed(addr, err)
		}
	}
}

// checkFailed marks addr down after it failed a health check, and closes the
// connections proxied to it once it has failed deadAfterFailedChecks in a
// row.
func (lb *LoadBalancer) checkFailed(addr string, err error) {
	lb.mu.Lock()
	h := lb.failed(addr, err)
	if h == nil { // no longer listed; its connections are closed already
		lb.mu.Unlock()
		return
	}
	h.failedChecks++
	if h.failedChecks < deadAfterFailedChecks {
		lb.mu.Unlock()
		return
	}
	var dead []*proxied
	for p := range lb.conns {
		if p.server == addr {
			dead = append(dead, p)
		}
	}
	if len(dead) > 0 {
		lb.log.Warn("closing connections to a dead API server", "server", addr, "failedChecks", h.failedChecks, "closing", len(dead))
	}
	lb.mu.Unlock()
	closeConns(dead)
}
