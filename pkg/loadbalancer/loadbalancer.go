package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Options tune a LoadBalancer; the zero value is what the agent runs with.
type Options struct {
	// Logger hears of switches between servers and of servers going down
	// and coming back; nil discards.
	Logger *slog.Logger
	// DialTimeout bounds every connect to a server, for proxied connections
	// and health checks alike (default 2s: one lost SYN is retried within it).
	DialTimeout time.Duration
	// CheckInterval is how often every listed server is connected to, to
	// find dead ones before a client does (default 2s).
	CheckInterval time.Duration
	// FailbackChecks is how many checks in a row the joined server must pass
	// before new connections go back to it (default 3), so that a server
	// whose port is back but which is still starting is not flapped onto.
	FailbackChecks int
}

const (
	defaultDialTimeout    = 2 * time.Second
	defaultCheckInterval  = 2 * time.Second
	defaultFailbackChecks = 3
)

// keepAlive finds a dead peer on an idle leg in 15s + 3×5s, well before the
// kernel default of two hours.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}

// LoadBalancer accepts connections on a local address and forwards each to
// the current server. Build it with New, then Run it; SetServers may be
// called at any time, from any goroutine.
type LoadBalancer struct {
	ln   net.Listener
	log  *slog.Logger
	opts Options
	// dial connects to a server: a net.Dialer's, which tests replace to
	// make a connect fail as it does on a loaded host.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// joined is the address the agent joined with: preferred while the
	// caller lists it, the last resort when it does not.
	joined string

	mu sync.Mutex
	// servers is the dial order: the joined address first when listed (last
	// when not), then the others as given.
	servers []string
	health  map[string]*health
	// joinedListed: the caller lists the joined address (New's list always
	// does). When it does not, no server is preferred.
	joinedListed bool
	current      string
	// unreachable: every server failed the last dial (logged once).
	unreachable bool
	conns       map[*proxied]struct{}
	started     bool
	closing     bool

	wg sync.WaitGroup
}

// New listens on listen ("127.0.0.1:0" or a fixed port) and balances over
// servers ("host:port" each). The first is the one the agent joined with and
// the preferred one. The listener is held from here on: call Run.
func New(listen string, servers []string, opts Options) (*LoadBalancer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = defaultCheckInterval
	}
	if opts.FailbackChecks <= 0 {
		opts.FailbackChecks = defaultFailbackChecks
	}
	addrs, bad := cleanAddrs(servers)
	if len(bad) > 0 {
		return nil, fmt.Errorf("API server addresses %q: want host:port", bad)
	}
	if len(addrs) == 0 {
		return nil, errors.New("no API server address to balance over")
	}
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("load balancer listener %q: %w", listen, err)
	}
	lb := &LoadBalancer{
		ln:           ln,
		log:          opts.Logger,
		opts:         opts,
		joined:       addrs[0],
		servers:      addrs,
		health:       map[string]*health{},
		joinedListed: true,
		current:      addrs[0],
		conns:        map[*proxied]struct{}{},
	}
	for _, a := range addrs {
		lb.health[a] = &health{}
	}
	dialer := net.Dialer{KeepAliveConfig: keepAlive}
	lb.dial = dialer.DialContext
	return lb, nil
}

// Addr is the address clients connect to, e.g. "127.0.0.1:41235".
func (lb *LoadBalancer) Addr() string { return lb.ln.Addr().String() }

// Run accepts and proxies connections, and checks the servers, until ctx
// ends; then it closes the listener and every proxied connection, waits for
// its goroutines and returns nil.
func (lb *LoadBalancer) Run(ctx context.Context) error {
	lb.mu.Lock()
	if lb.started {
		lb.mu.Unlock()
		return errors.New("load balancer: Run called twice")
	}
	lb.started = true
	lb.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
		lb.check(ctx)
	}()
	stop := context.AfterFunc(ctx, func() { lb.ln.Close() })
	defer stop()

	err := lb.accept(ctx)
	cancel()
	lb.ln.Close()
	lb.closeAll()
	lb.wg.Wait()
	return err
}

func (lb *LoadBalancer) accept(ctx context.Context) error {
	var delay time.Duration
	for {
		c, err := lb.ln.Accept()
		if err == nil {
			delay = 0
			lb.wg.Add(1)
			go lb.serve(ctx, c)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("load balancer listener %s: %w", lb.Addr(), err)
		}
		// Out of file descriptors and the like: back off as net/http does.
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		lb.log.Warn("accepting a connection", "err", err, "retry", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// serve forwards one client connection to the first server that answers, or
// closes it when none does: the client retries.
func (lb *LoadBalancer) serve(ctx context.Context, client net.Conn) {
	defer lb.wg.Done()
	backend, addr, err := lb.dialAny(ctx)
	if err != nil {
		client.Close()
		return
	}
	p := &proxied{client: client, backend: backend, server: addr}
	if !lb.attach(p) {
		p.close()
		return
	}
	defer lb.detach(p)
	p.pipe()
}

// dialAny connects to the current server, else to the others in order (those
// not known to be down first), and makes the first that answers current. A
// server that does not answer is passed over for new connections; the
// connections already proxied to it stay (see failed).
func (lb *LoadBalancer) dialAny(ctx context.Context) (net.Conn, string, error) {
	var errs []error
	for _, addr := range lb.dialOrder() {
		c, err := lb.connect(ctx, addr)
		if err == nil {
			return c, addr, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		if !localError(err) {
			lb.mu.Lock()
			lb.failed(addr, err)
			lb.mu.Unlock()
		}
		errs = append(errs, err)
	}
	lb.mu.Lock()
	if !lb.unreachable {
		lb.unreachable = true
		lb.log.Warn("no API server reachable: closing client connections until one answers", "err", errors.Join(errs...))
	}
	lb.mu.Unlock()
	return nil, "", errors.Join(errs...)
}

func (lb *LoadBalancer) connect(ctx context.Context, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, lb.opts.DialTimeout)
	defer cancel()
	return lb.dial(ctx, "tcp", addr)
}

// attach records a connection just made, unless the server was removed
// meanwhile or Run is ending.
func (lb *LoadBalancer) attach(p *proxied) bool {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closing || lb.health[p.server] == nil {
		return false
	}
	lb.up(p.server)
	lb.conns[p] = struct{}{}
	return true
}

func (lb *LoadBalancer) detach(p *proxied) {
	lb.mu.Lock()
	delete(lb.conns, p)
	lb.mu.Unlock()
}

func (lb *LoadBalancer) closeAll() {
	lb.mu.Lock()
	lb.closing = true
	all := make([]*proxied, 0, len(lb.conns))
	for p := range lb.conns {
		all = append(all, p)
	}
	lb.mu.Unlock()
	closeConns(all)
}
