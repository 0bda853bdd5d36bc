package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"

	"k8s.io/client-go/rest"
)

// loopback serves the API to the server's own components without a connection:
// each request is handed straight to the API handler in this process, and its
// answer streams back through an in-memory pipe. Over a socket, each of the
// hundred-odd requests the loops keep in flight in a storm held a pooled
// connection with three goroutines and four buffers, and every request and
// answer was framed as HTTP and parsed back. The random bearer token never
// leaves the process; the API authenticates it like any other.
type loopback struct {
	token   string
	handler http.Handler
	log     *slog.Logger
	ctx     context.Context // ends at shutdown: every request in flight ends with it
	stop    context.CancelFunc
}

func newLoopback(handler http.Handler, log *slog.Logger) (*loopback, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	return &loopback{token: hex.EncodeToString(b), handler: handler, log: log, ctx: ctx, stop: stop}, nil
}

// shutdown ends every request in flight, as closing the connections would.
func (l *loopback) shutdown() { l.stop() }

// config is a client configuration for in-process components. Rate limits are
// the caller's to set: in-process loops are trusted not to flood.
func (l *loopback) config() *rest.Config {
	return &rest.Config{
		Host:        "http://skiff-loopback",
		BearerToken: l.token,
		Transport:   l,
		QPS:         -1, // no client-side throttling
		Burst:       0,
		// Request bodies in protobuf: several times cheaper for the server to decode
		// than JSON, and the bulk of a storm's CPU is decoding.
		ContentConfig: rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf"},
	}
}

// errClosedBody is what the handler's writes get once the client has closed
// the answer's body, as a write to a closed connection would fail.
var errClosedBody = errors.New("loopback: the client closed the response body")

// errShutDown answers a request made after shutdown, as a refused connection would.
var errShutDown = errors.New("loopback: the API server has shut down")

// RoundTrip runs the handler on the request in a goroutine of its own and
// returns as soon as the handler has decided the status, so a watch's events
// stream to the client while the handler goes on.
func (l *loopback) RoundTrip(req *http.Request) (*http.Response, error) {
	if l.ctx.Err() != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errShutDown
	}
	ctx, cancel := context.WithCancel(req.Context())
	stopAfter := context.AfterFunc(l.ctx, cancel)
	sr := req.Clone(ctx)
	sr.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	sr.RequestURI = sr.URL.RequestURI()
	if sr.Host == "" {
		sr.Host = req.URL.Host
	}
	sr.RemoteAddr = "loopback"
	sr.Proto, sr.ProtoMajor, sr.ProtoMinor = "HTTP/1.1", 1, 1
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	p := newPipe()
	w := &responseWriter{header: http.Header{}, pipe: p, headed: make(chan struct{})}
	w.resp = &http.Response{
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		ContentLength: -1,
		Body:          &responseBody{pipe: p, cancel: cancel},
		Request:       req,
	}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					l.log.Error("loopback handler panicked", "method", req.Method, "path", req.URL.Path, "panic", v, "stack", string(debug.Stack()))
				}
				p.closeWrite(fmt.Errorf("loopback: the handler for %s %s failed", req.Method, req.URL.Path))
			} else {
				w.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
				p.closeWrite(io.EOF)
			}
			w.head() // a panic before the status still answers the round trip
			stopAfter()
			cancel()
			if req.Body != nil {
				_ = req.Body.Close()
			}
		}()
		l.handler.ServeHTTP(w, sr)
	}()
	select {
	case <-w.headed:
		if w.resp.StatusCode == 0 { // the handler panicked before answering
			_ = w.resp.Body.Close()
			return nil, p.err()
		}
		return w.resp, nil
	case <-req.Context().Done():
		_ = w.resp.Body.Close()
		return nil, req.Context().Err()
	}
}

// responseWriter is the handler's side of a round trip.
type responseWriter struct {
	header  http.Header
	pipe    *pipe
	resp    *http.Response
	headed  chan struct{} // closed once resp's status and header are set
	once    sync.Once
	written bool
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.written || code < 200 { // informational answers are not the answer
		return
	}
	w.written = true
	w.resp.StatusCode = code
	w.resp.Status = fmt.Sprintf("%d %s", code, http.StatusText(code))
	w.resp.Header = w.header.Clone()
	w.head()
}

func (w *responseWriter) head() { w.once.Do(func() { close(w.headed) }) }

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.written {
		if w.header.Get("Content-Type") == "" && len(b) > 0 {
			w.header.Set("Content-Type", http.DetectContentType(b)) // as net/http's server does
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.pipe.write(b)
}

// Flush sends the status if it is not sent yet; written bytes are readable at once.
func (w *responseWriter) Flush() { w.WriteHeader(http.StatusOK) }

// responseBody is the client's side: closing it ends the handler's request,
// as closing a connection would.
type responseBody struct {
	pipe   *pipe
	cancel context.CancelFunc
}

func (b *responseBody) Read(p []byte) (int, error) { return b.pipe.read(p) }

func (b *responseBody) Close() error {
	b.pipe.closeRead()
	b.cancel()
	return nil
}

// pipeLimit is how much a handler may write ahead of its reader before its
// writes wait, as a socket's buffer would let it.
const pipeLimit = 256 << 10

// pipe is an in-memory byte stream with a bounded buffer: unlike io.Pipe, a
// write returns as soon as its bytes are queued, so a watch handler draining a
// burst does not wait for the reader at every event.
type pipe struct {
	mu      sync.Mutex
	changed sync.Cond
	buf     []byte // unread bytes are buf[off:]
	off     int
	werr    error // set when the writer is done: io.EOF, or why it failed
	rclosed bool
}

// pipeKeep is the largest buffer a drained pipe keeps for its next write; an
// idle watch should not hold on to the memory of a burst.
const pipeKeep = 16 << 10

func newPipe() *pipe {
	p := &pipe{}
	p.changed.L = &p.mu
	return p
}

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf)-p.off >= pipeLimit && !p.rclosed {
			p.changed.Wait()
		}
		if p.rclosed {
			return n, errClosedBody
		}
		if p.werr != nil {
			return n, io.ErrClosedPipe
		}
		k := min(len(b), pipeLimit-(len(p.buf)-p.off))
		if p.off > 0 && len(p.buf)+k > cap(p.buf) {
			p.buf = p.buf[:copy(p.buf, p.buf[p.off:])]
			p.off = 0
		}
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		n += k
		p.changed.Broadcast()
	}
	return n, nil
}

func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == p.off && p.werr == nil && !p.rclosed {
		p.changed.Wait()
	}
	if p.rclosed {
		return 0, errClosedBody
	}
	if len(p.buf) == p.off {
		return 0, p.werr
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	if p.off == len(p.buf) {
		p.off = 0
		if cap(p.buf) > pipeKeep {
			p.buf = nil
		} else {
			p.buf = p.buf[:0]
		}
	}
	p.changed.Broadcast()
	return n, nil
}

func (p *pipe) closeWrite(err error) {
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.changed.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.rclosed = true
	p.buf, p.off = nil, 0
	p.changed.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.werr == nil || p.werr == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return p.werr
}
