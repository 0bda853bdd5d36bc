// Package netns runs code inside a network namespace named by a path
// (/run/netns/NAME, /proc/PID/ns/net). It switches one locked OS thread with
// setns(2) and throws that thread away afterwards, so no other goroutine ever
// runs in the namespace by accident. It is how the agent reaches pods when the
// node's network lives in a namespace of its own (tests, multi-node models).
//
// It must not create or delete namespaces; see agenttest for that.
package netns

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread that has entered the network namespace at path.
// Sockets fn creates belong to that namespace for their whole life, whatever
// thread later uses them. An empty path runs fn where we are.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine instead of
		// going back to the scheduler in the wrong namespace.
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			errc <- fmt.Errorf("network namespace %s: %w", path, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Dialer dials from inside a network namespace.
type Dialer struct {
	// Path of the namespace; empty dials from the current one.
	Path string
	// Timeout bounds each dial (default 30s), as net.Dialer's.
	Timeout time.Duration
}

// DialContext is net.Dialer.DialContext from inside the namespace.
func (d Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.Timeout}
	if nd.Timeout == 0 {
		nd.Timeout = 30 * time.Second
	}
	var conn net.Conn
	err := Do(d.Path, func() error {
		var err error
		conn, err = nd.DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// HTTPClient is an HTTP client whose connections are made inside the
// namespace. It keeps no idle connections, follows no redirects and has the
// given overall timeout (0: none).
func (d Dialer) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
