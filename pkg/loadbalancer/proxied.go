package loadbalancer

import (
	"io"
	"net"
)

// proxied is one client connection and its leg to a server.
type proxied struct {
	client, backend net.Conn
	server          string
}

// pipe copies both ways until both are done, passing a half-close on (a
// client that has sent its request and shut its write side still gets the
// answer), then closes both legs.
func (p *proxied) pipe() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(p.backend, p.client)
	}()
	copyHalf(p.client, p.backend)
	<-done
	p.close()
}

// copyHalf copies src to dst. At src's EOF it shuts dst's write side; on an
// error (a reset, or the connection closed under it) it closes both, which
// also ends the copy the other way.
func copyHalf(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		src.Close()
		dst.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	dst.Close()
}

func (p *proxied) close() {
	p.client.Close()
	p.backend.Close()
}

func closeConns(ps []*proxied) {
	for _, p := range ps {
		p.close()
	}
}
