package wire

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Dialer opens a connection to the next hop, ready for HTTP/1.1 (with TLS
// already negotiated when target is https).
type Dialer func(ctx context.Context, target *url.URL) (net.Conn, error)

// Relay carries upgrade requests to the next hop.
type Relay struct {
	Dial Dialer
	// Timeout bounds dialing the next hop and waiting for its answer.
	Timeout time.Duration
	Log     *slog.Logger
}

// maxErrorBody bounds how much of a failed upgrade's answer is relayed.
const maxErrorBody = 64 << 10

// forwardedHeaders are the only request headers passed to the next hop: the
// subprotocol offer and the client's name. Credentials (Authorization,
// Impersonate-*, cookies) meant for this hop never travel on.
var forwardedHeaders = []string{"X-Stream-Protocol-Version", "User-Agent"}

// Switched is a connection to the next hop that answered 101 Switching
// Protocols. Reading it yields what the hop sent after its answer.
type Switched struct {
	net.Conn
	// Head is the hop's answer exactly as it was sent.
	Head []byte
	// Protocol is the stream protocol the hop chose (X-Stream-Protocol-Version).
	Protocol string
}

func (rl Relay) log() *slog.Logger {
	if rl.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rl.Log
}

func badGateway(format string, args ...any) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadGateway, Message: fmt.Sprintf(format, args...),
	}}
}

// Switch sends an upgrade request to target with header (Connection: Upgrade
// is added) and returns the connection once the hop answered 101. Any other
// answer closes the connection and is returned as the Status the client
// should see: the hop's own for its errors, a 502 for anything else; a
// redirect is never followed (the CVE-2020-8559 class). ctx and rl.Timeout
// bound dialing and the wait for the answer, not the session.
func (rl Relay) Switch(ctx context.Context, method string, target *url.URL, header http.Header) (*Switched, error) {
	timeout := rl.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	backend, err := rl.Dial(ctx, target)
	if err != nil {
		rl.log().Debug("upgrade: dialing next hop", "target", target.Host, "err", err)
		return nil, badGateway("error dialing backend: %v", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = backend.SetDeadline(time.Now()) })
	fail := func(err error) (*Switched, error) {
		stop()
		backend.Close()
		return nil, err
	}

	out := &http.Request{
		Method:     method,
		URL:        target,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header.Clone(),
		Host:       target.Host,
	}
	out.Header.Set("Connection", "Upgrade")
	if err := out.Write(backend); err != nil {
		return fail(badGateway("error sending request to backend: %v", err))
	}
	// The head is kept as it was read so that a relay can hand it on
	// unchanged; what the reader buffered past it is already the new
	// protocol's.
	var head bytes.Buffer
	br := bufio.NewReader(io.TeeReader(backend, &head))
	resp, err := http.ReadResponse(br, out)
	if err != nil {
		return fail(badGateway("error reading upgrade response from backend: %v", err))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = backend.SetReadDeadline(time.Now().Add(10 * time.Second))
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		rl.log().Debug("upgrade refused by next hop", "target", target.Host, "status", resp.StatusCode)
		switch {
		case resp.StatusCode >= 400:
			return fail(StatusFromResponse(resp.StatusCode, body))
		case resp.StatusCode >= 300:
			return fail(badGateway("the backend attempted to redirect this request, which is not permitted"))
		}
		return fail(badGateway("invalid upgrade response: status code %d", resp.StatusCode))
	}
	if !stop() {
		// The deadline fired while the answer was being read.
		backend.Close()
		return nil, apierrors.NewTimeoutError("upgrade timed out", 0)
	}
	_ = backend.SetDeadline(time.Time{})

	sw := &Switched{Conn: backend, Protocol: resp.Header.Get("X-Stream-Protocol-Version")}
	early := br.Buffered()
	sw.Head = head.Bytes()[:head.Len()-early]
	if early > 0 {
		sw.Conn = &prefixedConn{Conn: backend, prefix: head.Bytes()[head.Len()-early:]}
	}
	return sw, nil
}

// CloseWrite half-closes the connection to the hop, so that a relay can pass
// the end of one direction on.
func (s *Switched) CloseWrite() error {
	if cw, ok := s.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}

// prefixedConn reads prefix before the connection.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *prefixedConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Forwarded is what the next hop may learn of r: its subprotocol offer, its
// client's name and address, and nothing that authenticates it.
func Forwarded(r *http.Request) http.Header {
	h := http.Header{}
	for _, k := range forwardedHeaders {
		for _, v := range r.Header.Values(k) {
			h.Add(k, v)
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h.Set("X-Forwarded-For", host)
	}
	return h
}

// Upgrade sends r's upgrade to target. On 101 Switching Protocols from the next
// hop it hijacks the client connection, hands it the hop's answer and copies
// bytes both ways until either side ends. Any other answer is turned into a
// Status for the client and the client connection is closed after it: no byte
// the client sends later can reach the next hop (the CVE-2018-1002105 class).
func (rl Relay) Upgrade(w http.ResponseWriter, r *http.Request, target *url.URL) {
	if r.ProtoMajor != 1 {
		WriteStatus(w, apierrors.NewBadRequest("an upgrade needs HTTP/1.1"))
		return
	}
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		WriteStatus(w, fmt.Errorf("connection cannot be hijacked (%T)", w))
		return
	}
	header := Forwarded(r)
	header.Set("Upgrade", r.Header.Get("Upgrade"))
	backend, err := rl.Switch(r.Context(), r.Method, target, header)
	if err != nil {
		w.Header().Set("Connection", "close")
		WriteStatus(w, err)
		return
	}
	defer backend.Close()

	client, buffered, err := hijacker.Hijack()
	if err != nil {
		rl.log().Debug("upgrade: hijacking client connection", "err", err)
		return
	}
	defer client.Close()
	if _, err := client.Write(backend.Head); err != nil {
		return
	}
	if n := buffered.Reader.Buffered(); n > 0 {
		early, _ := buffered.Reader.Peek(n)
		if _, err := backend.Write(early); err != nil {
			return
		}
	}
	Join(r.Context(), client, backend)
}

// lingerAfterEnd bounds how long the second direction of a session may go on
// once the first has ended.
const lingerAfterEnd = 5 * time.Second

type closeWriter interface{ CloseWrite() error }

// Join copies both ways until the session ends, or ctx does (the server
// that serves the request stops). When one direction ends it half-closes
// its destination and lets the other direction drain to its own end (for at
// most lingerAfterEnd), so that the last bytes of a session (an exec's final
// output and exit Status) are never cut off because the other direction
// failed first; then it closes both.
func Join(ctx context.Context, a, b net.Conn) {
	release := context.AfterFunc(ctx, func() {
		a.Close()
		b.Close()
	})
	defer release()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(closeWriter); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(a, b)
	go pipe(b, a)
	<-done
	select {
	case <-done:
		a.Close()
		b.Close()
	case <-time.After(lingerAfterEnd):
		a.Close()
		b.Close()
		<-done
	}
}
