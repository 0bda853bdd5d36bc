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
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Protocol is what an upgrade request asks to switch to.
type Protocol int

const (
	// NoUpgrade is a plain request.
	NoUpgrade Protocol = iota
	// SPDY is "Upgrade: SPDY/3.1", what every kubectl speaks.
	SPDY
	// WebSocket is "Upgrade: websocket" (kubectl 1.30+ exec and attach, 1.31+
	// port-forward, tried first).
	WebSocket
	// OtherUpgrade is any other protocol.
	OtherUpgrade
)

// UpgradeProtocol classifies r.
func UpgradeProtocol(r *http.Request) Protocol {
	if !hasToken(r.Header.Values("Connection"), "upgrade") {
		return NoUpgrade
	}
	up := r.Header.Values("Upgrade")
	switch {
	case len(up) == 0:
		return NoUpgrade
	case hasToken(up, "SPDY/3.1"):
		return SPDY
	case hasToken(up, "websocket"):
		return WebSocket
	}
	return OtherUpgrade
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// RefuseUpgrade answers an upgrade this path does not carry. A WebSocket
// request gets a 400 Status: kubectl 1.30+ treats any answer but 101 to its
// WebSocket attempt as an upgrade failure and retries over SPDY/3.1.
func RefuseUpgrade(w http.ResponseWriter, r *http.Request, what string) {
	switch UpgradeProtocol(r) {
	case WebSocket:
		WriteStatus(w, apierrors.NewBadRequest(fmt.Sprintf("%s over WebSocket is not supported by this server; use SPDY/3.1 (kubectl falls back to it by itself)", what)))
	case NoUpgrade:
		WriteStatus(w, apierrors.NewBadRequest("Upgrade request required"))
	default:
		WriteStatus(w, apierrors.NewBadRequest(fmt.Sprintf("%s: unsupported upgrade %q; use SPDY/3.1", what, r.Header.Get("Upgrade"))))
	}
}

// Dialer opens a connection to the next hop, ready for HTTP/1.1 (with TLS
// already negotiated when target is https).
type Dialer func(ctx context.Context, target *url.URL) (net.Conn, error)

// Relay joins an upgrade request to the next hop.
type Relay struct {
	Dial Dialer
	// Timeout bounds dialing the next hop and waiting for its answer.
	Timeout time.Duration
	Log     *slog.Logger
}

// maxErrorBody bounds how much of a failed upgrade's answer is relayed.
const maxErrorBody = 64 << 10

// forwardedHeaders are the only request headers passed to the next hop: the
// upgrade itself and the subprotocol offer. Credentials (Authorization,
// Impersonate-*, cookies) meant for this hop never travel on.
var forwardedHeaders = []string{"X-Stream-Protocol-Version", "User-Agent"}

// Upgrade sends r's upgrade to target. On 101 Switching Protocols from the next
// hop it hijacks the client connection and copies bytes both ways until either
// side ends. Any other answer is turned into a Status for the client and the
// client connection is closed after it: no byte the client sends later can
// reach the next hop (the CVE-2018-1002105 class), and a redirect is never
// followed or relayed (the CVE-2020-8559 class).
func (rl Relay) Upgrade(w http.ResponseWriter, r *http.Request, target *url.URL) {
	log := rl.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if r.ProtoMajor != 1 {
		WriteStatus(w, apierrors.NewBadRequest("an upgrade needs HTTP/1.1"))
		return
	}
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		WriteStatus(w, fmt.Errorf("connection cannot be hijacked (%T)", w))
		return
	}
	timeout := rl.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	backend, err := rl.Dial(ctx, target)
	if err != nil {
		log.Debug("upgrade: dialing next hop", "target", target.Host, "err", err)
		WriteStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusBadGateway,
			Message: fmt.Sprintf("error dialing backend: %v", err),
		}})
		return
	}
	defer backend.Close()
	stop := context.AfterFunc(ctx, func() { _ = backend.SetDeadline(time.Now()) })

	out := &http.Request{
		Method:     r.Method,
		URL:        target,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Host:       target.Host,
	}
	for _, k := range forwardedHeaders {
		for _, v := range r.Header.Values(k) {
			out.Header.Add(k, v)
		}
	}
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", r.Header.Get("Upgrade"))
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		out.Header.Set("X-Forwarded-For", host)
	}
	if err := out.Write(backend); err != nil {
		stop()
		WriteStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusBadGateway,
			Message: fmt.Sprintf("error sending request to backend: %v", err),
		}})
		return
	}
	// Everything read from the next hop is kept: past the response head it is
	// already upgraded traffic that belongs to the client.
	var raw bytes.Buffer
	resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(backend, &raw)), out)
	if err != nil {
		stop()
		WriteStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusBadGateway,
			Message: fmt.Sprintf("error reading upgrade response from backend: %v", err),
		}})
		return
	}

	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = backend.SetReadDeadline(time.Now().Add(10 * time.Second))
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		stop()
		log.Debug("upgrade refused by next hop", "target", target.Host, "status", resp.StatusCode)
		w.Header().Set("Connection", "close")
		if resp.StatusCode >= 400 {
			WriteStatus(w, StatusFromResponse(resp.StatusCode, body))
			return
		}
		msg := fmt.Sprintf("invalid upgrade response: status code %d", resp.StatusCode)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			msg = "the backend attempted to redirect this request, which is not permitted"
		}
		WriteStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusBadGateway, Message: msg,
		}})
		return
	}
	if !stop() {
		// The deadline fired while the answer was being read.
		WriteStatus(w, apierrors.NewTimeoutError("upgrade timed out", 0))
		return
	}
	_ = backend.SetDeadline(time.Time{})

	client, buffered, err := hijacker.Hijack()
	if err != nil {
		log.Debug("upgrade: hijacking client connection", "err", err)
		return
	}
	defer client.Close()
	if _, err := client.Write(raw.Bytes()); err != nil {
		return
	}
	if n := buffered.Reader.Buffered(); n > 0 {
		early, _ := buffered.Reader.Peek(n)
		if _, err := backend.Write(early); err != nil {
			return
		}
	}
	// The session also ends with the server that serves r (its base context).
	release := context.AfterFunc(r.Context(), func() {
		client.Close()
		backend.Close()
	})
	defer release()
	join(client, backend)
}

// lingerAfterEnd bounds how long the second direction of a session may go on
// once the first has ended.
const lingerAfterEnd = 5 * time.Second

type closeWriter interface{ CloseWrite() error }

// join copies both ways. When one direction ends it half-closes its
// destination and lets the other direction drain to its own end (for at most
// lingerAfterEnd), so that the last bytes of a session (an exec's final
// output and exit Status) are never cut off because the other direction
// failed first; then it closes both.
func join(a, b net.Conn) {
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
