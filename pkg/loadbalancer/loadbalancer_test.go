package loadbalancer_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skiffhq/skiff/pkg/loadbalancer"
)

// Timings short enough for tests; the defaults only stretch them.
var testOpts = loadbalancer.Options{
	DialTimeout:    time.Second,
	CheckInterval:  50 * time.Millisecond,
	FailbackChecks: 3,
}

// backend stands in for an API server: it answers each line with its name,
// and closes a connection once the client has shut its write side.
type backend struct {
	name, addr string
	ln         net.Listener
	silent     atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startBackend listens on addr ("127.0.0.1:0" for a new port, or the address
// of a backend that crashed, to bring it back).
func startBackend(t *testing.T, name, addr string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	b := &backend{name: name, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns[c] = true
			b.mu.Unlock()
			b.wg.Go(func() { b.serve(c) })
		}
	})
	t.Cleanup(b.crash)
	return b
}

func (b *backend) serve(c net.Conn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if b.silent.Load() {
			continue
		}
		if _, err := io.WriteString(c, b.name+": "+sc.Text()+"\n"); err != nil {
			return
		}
	}
}

// crash is the server process dying: the port refuses and every connection
// is closed.
func (b *backend) crash() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// vanish is the server's machine dying: new connections fail, and
// connections already made are never closed nor answered.
func (b *backend) vanish() {
	b.silent.Store(true)
	b.ln.Close()
}

func runLB(t *testing.T, servers ...string) *loadbalancer.LoadBalancer {
	t.Helper()
	lb, err := loadbalancer.New("127.0.0.1:0", servers, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, lb)
}

// start runs lb until the test ends.
func start(t *testing.T, lb *loadbalancer.LoadBalancer) *loadbalancer.LoadBalancer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return lb
}

// client is one connection through the balancer.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, lb *loadbalancer.LoadBalancer) *client {
	t.Helper()
	c, err := net.Dial("tcp", lb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// ask sends a line and returns the answer, or the error reading it.
func (c *client) ask(line string) (string, error) {
	c.c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		return "", err
	}
	s, err := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// who is the backend a new connection reaches: "b1", or "" when the
// balancer closes the connection.
func who(t *testing.T, lb *loadbalancer.LoadBalancer) string {
	t.Helper()
	s, err := dial(t, lb).ask("who")
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// eventually waits for a new connection to reach want.
func eventually(t *testing.T, lb *loadbalancer.LoadBalancer, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	got := who(t, lb)
	for got != want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = who(t, lb)
	}
	if got != want {
		t.Fatalf("new connections reach %q after %v, want %q", got, within, want)
	}
}

// closedWithin checks that the balancer closes c within d (a read that ends
// with EOF or reset, not with the read deadline).
func (c *client) closedWithin(d time.Duration) {
	c.t.Helper()
	start := time.Now()
	c.c.SetReadDeadline(start.Add(d))
	_, err := c.r.ReadString('\n')
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		c.t.Fatalf("connection still open after %v (read: %v)", d, err)
	}
}

func TestProxiesToJoinedServerWithHalfClose(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	lb := runLB(t, b1.addr, b2.addr)
	for range 3 {
		if got := who(t, lb); got != "b1" {
			t.Fatalf("connection went to %q, want b1 (the joined server)", got)
		}
	}
	// A client that shuts its write side after its request still reads
	// every answer, then EOF once the server closes.
	c := dial(t, lb)
	io.WriteString(c.c, "a\nb\n")
	if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	all, err := io.ReadAll(c.c)
	if err != nil || string(all) != "b1: a\nb1: b\n" {
		t.Fatalf("after half-close read %q, %v; want both answers then EOF", all, err)
	}
}

func TestFailoverAndFailback(t *testing.T) {
	b1, b2, b3 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0"), startBackend(t, "b3", "127.0.0.1:0")
	lb := runLB(t, b1.addr, b2.addr, b3.addr)
	old := dial(t, lb)
	if s, err := old.ask("hi"); s != "b1: hi" {
		t.Fatalf("got %q, %v; want b1: hi", s, err)
	}

	b1.crash()
	old.closedWithin(time.Second)
	start := time.Now()
	if got := who(t, lb); got != "b2" {
		t.Fatalf("after b1 crashed a new connection reached %q, want b2", got)
	}
	if d := time.Since(start); d > testOpts.DialTimeout {
		t.Errorf("failover took %v, more than the dial timeout %v", d, testOpts.DialTimeout)
	}
	stay := dial(t, lb)
	if s, _ := stay.ask("x"); s != "b2: x" {
		t.Fatalf("got %q, want b2: x", s)
	}

	// b1 back on its address: new connections return to the joined server
	// once it has passed its checks; those on b2 stay.
	startBackend(t, "b1", b1.addr)
	eventually(t, lb, "b1", 2*time.Second)
	if s, err := stay.ask("y"); s != "b2: y" {
		t.Fatalf("connection to b2 after failback: %q, %v; want it left alone", s, err)
	}
}

func TestClosesConnectionsToVanishedServer(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	lb := runLB(t, b1.addr, b2.addr)
	watch := dial(t, lb)
	if s, err := watch.ask("watch"); s != "b1: watch" {
		t.Fatalf("got %q, %v", s, err)
	}
	// Nothing tells the connection that b1 is gone; the health check must.
	b1.vanish()
	watch.closedWithin(time.Second)
	if got := who(t, lb); got != "b2" {
		t.Fatalf("reconnect reached %q, want b2", got)
	}
}

func TestSetServers(t *testing.T) {
	b1, b2, b3 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0"), startBackend(t, "b3", "127.0.0.1:0")
	lb := runLB(t, b1.addr)

	// The joined server, listed: preferred wherever it appears, and its
	// connections stay.
	kept := dial(t, lb)
	kept.ask("1")
	lb.SetServers([]string{b2.addr, b1.addr})
	if got := lb.Servers(); !equal(got, b1.addr, b2.addr) {
		t.Fatalf("servers %q, want joined first", got)
	}
	if s, err := kept.ask("2"); s != "b1: 2" {
		t.Fatalf("connection to a still-listed server: %q, %v", s, err)
	}

	// Unlisted: its connections close, new ones go to the first listed, and
	// it is kept last as the way back.
	lb.SetServers([]string{b3.addr, b2.addr})
	kept.closedWithin(time.Second)
	if got := who(t, lb); got != "b3" {
		t.Fatalf("after SetServers(b3, b2) a connection reached %q, want b3", got)
	}
	if got := lb.Servers(); !equal(got, b3.addr, b2.addr, b1.addr) {
		t.Fatalf("servers %q, want b3, b2, then the joined b1", got)
	}

	// The current server stays current when still listed, even if not first.
	onB3 := dial(t, lb)
	onB3.ask("3")
	lb.SetServers([]string{b2.addr, b3.addr})
	if got := who(t, lb); got != "b3" {
		t.Fatalf("after SetServers(b2, b3) a connection reached %q, want b3 (still current)", got)
	}
	if s, err := onB3.ask("4"); s != "b3: 4" {
		t.Fatalf("connection to the current server: %q, %v", s, err)
	}

	// Every listed server gone: the joined address answers.
	b2.crash()
	b3.crash()
	eventually(t, lb, "b1", time.Second)
	// ... until a listed server is healthy again.
	startBackend(t, "b3", b3.addr)
	eventually(t, lb, "b3", 2*time.Second)

	// Empty and malformed lists change nothing.
	lb.SetServers(nil)
	lb.SetServers([]string{"no-port"})
	if got := lb.Servers(); !equal(got, b2.addr, b3.addr, b1.addr) {
		t.Fatalf("servers %q after empty and malformed lists", got)
	}
}

func TestAllServersDown(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	lb := runLB(t, b1.addr, b2.addr)
	b1.crash()
	b2.crash()
	start := time.Now()
	c := dial(t, lb)
	io.WriteString(c.c, "anyone\n")
	c.closedWithin(time.Second)
	t.Logf("closed after %v", time.Since(start))

	startBackend(t, "b2", b2.addr)
	eventually(t, lb, "b2", time.Second)
}

func TestRunEndsAndClosesEverything(t *testing.T) {
	b1 := startBackend(t, "b1", "127.0.0.1:0")
	before := runtime.NumGoroutine()

	lb, err := loadbalancer.New("127.0.0.1:0", []string{b1.addr}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lb.Run(ctx) }()
	var open []*client
	for range 5 {
		c := dial(t, lb)
		if s, err := c.ask("hi"); s != "b1: hi" {
			t.Fatalf("got %q, %v", s, err)
		}
		open = append(open, c)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, c := range open {
		c.closedWithin(time.Second)
		c.c.Close()
	}
	if c, err := net.Dial("tcp", lb.Addr()); err == nil {
		c.Close()
		t.Fatal("listener still accepts after Run returned")
	}
	if err := lb.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}

	// Run's goroutines, and b1's for the closed connections, are gone.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before the balancer:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestNewRejectsBadAddresses(t *testing.T) {
	for _, servers := range [][]string{nil, {"10.0.0.1"}, {"10.0.0.1:6443", ":6443"}} {
		if lb, err := loadbalancer.New("127.0.0.1:0", servers, testOpts); err == nil {
			t.Errorf("New(%q) succeeded, listening on %s", servers, lb.Addr())
		}
	}
}

func equal(got []string, want ...string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}

// faults makes connects to one server fail as they do on a loaded host or a
// lossy link, and counts the connects to it.
type faults struct {
	server string
	// fail makes the error a failing connect returns.
	fail  loadbalancer.Dial
	left  atomic.Int64 // connects still to fail; negative: all of them
	dials atomic.Int64 // connects to server so far
}

func (f *faults) wrap(next loadbalancer.Dial) loadbalancer.Dial {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != f.server {
			return next(ctx, network, addr)
		}
		f.dials.Add(1)
		for {
			n := f.left.Load()
			if n == 0 {
				return next(ctx, network, addr)
			}
			if n < 0 || f.left.CompareAndSwap(n, n-1) {
				return f.fail(ctx, network, addr)
			}
		}
	}
}

// lostSYN is a connect that runs out its timeout: the real dial, its
// deadline already past.
func lostSYN(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 0)
	defer cancel()
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// localError is a connect that fails on this host, as net reports it.
func localError(errno syscall.Errno) loadbalancer.Dial {
	return func(_ context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", errno)}
	}
}

// runFaultyLB runs a balancer whose connects to servers[0] go through f.
func runFaultyLB(t *testing.T, opts loadbalancer.Options, f *faults, servers ...string) *loadbalancer.LoadBalancer {
	t.Helper()
	lb, err := loadbalancer.New("127.0.0.1:0", servers, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.server = servers[0]
	loadbalancer.WrapDial(lb, f.wrap)
	return start(t, lb)
}

// failChecks makes the next n health checks of f.server fail with f.fail
// (n < 0: every one) and returns once m of them have been dealt with. Only
// the checks connect to f.server meanwhile, once a round, so a connect begun
// in the round after the m-th failed one means the balancer is done with it.
func (f *faults) failChecks(t *testing.T, n, m int64) {
	t.Helper()
	start := f.dials.Load()
	f.left.Store(n)
	deadline := time.Now().Add(5 * time.Second)
	for f.dials.Load() < start+m+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d health checks of %s in 5s, want %d", f.dials.Load()-start, f.server, m+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noChecks leaves the connects to the clients' dials.
var noChecks = loadbalancer.Options{DialTimeout: time.Second, CheckInterval: time.Hour, FailbackChecks: 3}

func TestFailedDialKeepsConnections(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	f := &faults{fail: lostSYN}
	lb := runFaultyLB(t, noChecks, f, b1.addr, b2.addr)
	watch := dial(t, lb)
	if s, err := watch.ask("watch"); s != "b1: watch" {
		t.Fatalf("got %q, %v; want b1: watch", s, err)
	}
	// A client's connect to b1 times out: it and the next clients go to b2,
	// but b1 is alive and the watch on it stays.
	f.left.Store(1)
	if got := who(t, lb); got != "b2" {
		t.Fatalf("after a connect to b1 timed out a new connection reached %q, want b2", got)
	}
	if got := who(t, lb); got != "b2" {
		t.Fatalf("a later connection reached %q, want b2 (b1 marked down)", got)
	}
	if s, err := watch.ask("still"); s != "b1: still" {
		t.Fatalf("watch on b1 after a failed connect to it: %q, %v; want it left open", s, err)
	}
}

func TestFailedChecksBelowLimitKeepConnections(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	f := &faults{fail: lostSYN}
	lb := runFaultyLB(t, testOpts, f, b1.addr, b2.addr)
	watch := dial(t, lb)
	if s, err := watch.ask("watch"); s != "b1: watch" {
		t.Fatalf("got %q, %v; want b1: watch", s, err)
	}
	n := int64(loadbalancer.DeadAfterFailedChecks - 1)
	f.failChecks(t, n, n)
	if s, err := watch.ask("still"); s != "b1: still" {
		t.Fatalf("watch on b1 after %d failed checks of it: %q, %v; want it left open", n, s, err)
	}
	// b1 passes its checks again: new connections go back to it.
	eventually(t, lb, "b1", 2*time.Second)
}

func TestFailedChecksAtLimitCloseConnections(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	f := &faults{fail: lostSYN}
	lb := runFaultyLB(t, testOpts, f, b1.addr, b2.addr)
	watch := dial(t, lb)
	if s, err := watch.ask("watch"); s != "b1: watch" {
		t.Fatalf("got %q, %v; want b1: watch", s, err)
	}
	n := int64(loadbalancer.DeadAfterFailedChecks)
	f.failChecks(t, n, n)
	watch.closedWithin(time.Second)
	if got := who(t, lb); got == "" {
		t.Fatal("reconnect after the watch was closed was refused")
	}
}

func TestLocalErrorsDoNotCountAgainstServer(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL, syscall.ENOBUFS} {
		t.Run(errno.Error(), func(t *testing.T) {
			t.Parallel()
			b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")

			// Health checks: b1's connections stay however many fail,
			// and b1 stays the server new connections go to.
			f := &faults{fail: localError(errno)}
			lb := runFaultyLB(t, testOpts, f, b1.addr, b2.addr)
			watch := dial(t, lb)
			if s, err := watch.ask("watch"); s != "b1: watch" {
				t.Fatalf("got %q, %v; want b1: watch", s, err)
			}
			f.failChecks(t, -1, 2*loadbalancer.DeadAfterFailedChecks)
			if s, err := watch.ask("still"); s != "b1: still" {
				t.Fatalf("watch on b1 after its checks failed with %v: %q, %v; want it left open", errno, s, err)
			}
			f.left.Store(0)
			if got := who(t, lb); got != "b1" {
				t.Fatalf("once connects to b1 work again a new connection reached %q, want b1 (never down)", got)
			}

			// A client's connect: that client goes elsewhere, the next
			// ones to b1 still.
			f = &faults{fail: localError(errno)}
			lb = runFaultyLB(t, noChecks, f, b1.addr, b2.addr)
			f.left.Store(1)
			if got := who(t, lb); got != "b2" {
				t.Fatalf("a connection whose connect to b1 failed with %v reached %q, want b2", errno, got)
			}
			if got := who(t, lb); got != "b1" {
				t.Fatalf("the next connection reached %q, want b1 (not marked down by %v)", got, errno)
			}
		})
	}
}
