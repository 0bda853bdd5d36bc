package loadbalancer

import (
	"context"
	"sync"
	"time"
)

// check connects to every listed server each CheckInterval until ctx ends.
// A server that does not answer is marked down and its connections closed
// before any client notices (a watch on a killed machine sees no FIN and
// would otherwise wait for TCP to give up); the joined server is failed back
// to once it has answered FailbackChecks times in a row.
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
		if errs[i] != nil {
			lb.failed(addr, errs[i])
			continue
		}
		lb.mu.Lock()
		lb.up(addr)
		lb.mu.Unlock()
	}
}
