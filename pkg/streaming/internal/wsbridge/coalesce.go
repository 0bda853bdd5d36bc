package wsbridge

import (
	"net"
	"sync"
	"time"
)

// maxPending bounds what a coalescedConn holds before writers wait.
const maxPending = 256 << 10

// coalescedConn gathers writes into as few writes to the connection as it
// can. spdystream writes each data frame in three pieces (stream, flags and
// length, data); unbuffered, every piece is a TLS record and a system call
// to the agent, and a read for the agent's relay. One goroutine writes out
// whatever has gathered while the writers go on.
type coalescedConn struct {
	net.Conn
	mu      sync.Mutex
	cond    sync.Cond
	pending []byte
	err     error // the connection's write error, returned from then on
	closing bool
	done    chan struct{} // closed when the writing goroutine ends
}

func coalesce(c net.Conn) *coalescedConn {
	cc := &coalescedConn{Conn: c, done: make(chan struct{})}
	cc.cond.L = &cc.mu
	go cc.writeOut()
	return cc
}

func (c *coalescedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) >= maxPending && c.err == nil && !c.closing {
		c.cond.Wait()
	}
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closing:
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.cond.Broadcast()
	return len(p), nil
}

func (c *coalescedConn) writeOut() {
	defer close(c.done)
	var out []byte
	for {
		c.mu.Lock()
		for len(c.pending) == 0 && !c.closing {
			c.cond.Wait()
		}
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return
		}
		out, c.pending = c.pending, out[:0]
		c.cond.Broadcast()
		c.mu.Unlock()
		if _, err := c.Conn.Write(out); err != nil {
			c.mu.Lock()
			c.err = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
	}
}

// Close sends what is pending (for at most a second) and closes.
func (c *coalescedConn) Close() error {
	c.mu.Lock()
	c.closing = true
	c.cond.Broadcast()
	c.mu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	<-c.done
	return c.Conn.Close()
}
