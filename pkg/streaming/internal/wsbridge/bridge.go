// Package wsbridge serves the WebSocket forms of the streaming pod
// subresources inside the API server, as upstream's API server does, by
// translating them to what the node agent speaks:
//
//   - exec and attach: the channel protocols (v5.channel.k8s.io, v4, the
//     unversioned channel.k8s.io and their base64 forms) become a SPDY/3.1
//     v4.channel.k8s.io session with the agent, resize and exit Status
//     included;
//   - portforward: the SPDY/3.1 session kubectl 1.31+ tunnels in WebSocket
//     messages (SPDY/3.1+portforward.k8s.io) is unwrapped onto a SPDY/3.1
//     upgrade to the agent;
//   - log: the agent's answer is sent as binary.k8s.io (or base64) messages.
//
// The client's WebSocket is accepted only after the agent has taken the
// request (101; 200 for a log), so a failure is a plain HTTP Status (kubectl
// then falls back to SPDY), and the client's bytes reach the agent only as
// parsed WebSocket payloads. It must
// not look pods up or choose the hop: the proxy hands it a Hop.
package wsbridge

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// Hop opens the SPDY/3.1 upgrade to the next hop, offering protocols, and
// returns the connection once the hop answered 101; any other answer is the
// Status error for the client.
type Hop func(ctx context.Context, protocols ...string) (*wire.Switched, error)

// chunk is the most one read moves. 32 KiB is what kubectl writes per
// message; a chunk and its frame header fit one WebSocket frame.
const chunk = 32 << 10

// closeWait bounds the wait for the client's answer to our close frame.
const closeWait = 5 * time.Second

// checkHandshake fails for a WebSocket handshake that could not succeed,
// so that no hop is dialled for it.
func checkHandshake(r *http.Request) error {
	if r.Method != http.MethodGet {
		return apierrors.NewBadRequest("a WebSocket upgrade must be a GET")
	}
	if !slices.ContainsFunc(r.Header.Values("Sec-Websocket-Version"), func(v string) bool { return strings.TrimSpace(v) == "13" }) {
		return apierrors.NewBadRequest("unsupported WebSocket version: want 13")
	}
	if key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-Websocket-Key")); err != nil || len(key) != 16 {
		return apierrors.NewBadRequest("invalid Sec-WebSocket-Key")
	}
	return nil
}

// negotiate checks r's handshake and picks the first of supported (best
// first) that the client offers. A client offering none gets "" when ""
// is supported.
func negotiate(r *http.Request, supported []string) (string, error) {
	if err := checkHandshake(r); err != nil {
		return "", err
	}
	offered := websocket.Subprotocols(r)
	if len(offered) == 0 {
		offered = []string{""}
	}
	for _, p := range supported {
		if slices.Contains(offered, p) {
			return p, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("unable to upgrade: none of the WebSocket subprotocols %q is supported; supported: %q", offered, supported))
}

// conn is a server-side WebSocket on which several goroutines send.
type conn struct {
	ws *websocket.Conn
	mu sync.Mutex // gorilla allows one writer at a time
	// closed is closed when the client's side has ended (read error or its
	// close frame).
	closed chan struct{}
}

// upgrade answers r's handshake with protocol (already negotiated).
func upgrade(w http.ResponseWriter, r *http.Request, protocol string) (*conn, error) {
	u := websocket.Upgrader{
		ReadBufferSize:  chunk + 1024,
		WriteBufferSize: chunk + 1024,
		// Callers authenticate with client certificates or bearer tokens,
		// never ambient browser cookies, so another origin's page gains
		// nothing here; upstream does not check Origin either.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if protocol != "" {
		u.Subprotocols = []string{protocol}
	}
	ws, err := u.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	return &conn{ws: ws, closed: make(chan struct{})}, nil
}

// send writes one message of typ made of parts.
func (c *conn) send(typ int, parts ...[]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, err := c.ws.NextWriter(typ)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// clientGone marks the client's side ended; the reader calls it once.
func (c *conn) clientGone() { close(c.closed) }

// finish ends the session as RFC 6455 asks: our close frame, the client's
// answer (seen by the reader, for at most closeWait), then the connection.
func (c *conn) finish() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeWait))
	select {
	case <-c.closed:
	case <-time.After(closeWait):
	}
	c.ws.Close()
}

// isEnd reports whether err is the client's orderly end of the connection.
func isEnd(err error) bool {
	return err == io.EOF || websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway)
}
