package wsbridge

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/portforward"

	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// TunnelProtocols are the SPDY protocols a port-forward WebSocket request
// tunnels: its "SPDY/3.1+NAME.k8s.io" subprotocols, prefix removed (kubectl
// 1.31+ offers SPDY/3.1+portforward.k8s.io). An error is the 400 to answer.
func TunnelProtocols(r *http.Request) ([]string, error) {
	if err := checkHandshake(r); err != nil {
		return nil, err
	}
	var spdy []string
	for _, p := range websocket.Subprotocols(r) {
		if strings.HasPrefix(p, portforward.WebsocketsSPDYTunnelingPrefix) && strings.HasSuffix(p, portforward.KubernetesSuffix) {
			spdy = append(spdy, strings.TrimPrefix(p, portforward.WebsocketsSPDYTunnelingPrefix))
		}
	}
	if len(spdy) == 0 {
		return nil, apierrors.NewBadRequest("unable to upgrade: no tunneling SPDY protocols provided; offer " + portforward.WebsocketsSPDYTunnelingPortForwardV1)
	}
	return spdy, nil
}

// ServeTunnel serves a port-forward WebSocket request: the SPDY session the
// client tunnels in binary messages is carried, unread, over a SPDY/3.1
// upgrade to the next hop offering protocols (from TunnelProtocols). The
// WebSocket is accepted only once the hop answered 101, with the protocol
// it chose.
func ServeTunnel(w http.ResponseWriter, r *http.Request, protocols []string, hop Hop) {
	backend, err := hop(r.Context(), protocols...)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	defer backend.Close()
	ws, err := upgrade(w, r, portforward.WebsocketsSPDYTunnelingPrefix+backend.Protocol)
	if err != nil {
		return
	}
	wire.Join(r.Context(), &tunnel{conn: ws}, backend)
}

// tunnel is a byte stream carried in binary WebSocket messages: each Write
// is one message, reads run on across message boundaries.
type tunnel struct {
	conn    *conn
	message io.Reader // the message being read
}

var _ net.Conn = (*tunnel)(nil)

func (t *tunnel) Read(p []byte) (int, error) {
	for {
		if t.message == nil {
			typ, r, err := t.conn.ws.NextReader()
			if err != nil {
				if isEnd(err) {
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errTextInTunnel
			}
			t.message = r
		}
		n, err := t.message.Read(p)
		if err == io.EOF {
			t.message = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

var errTextInTunnel = errors.New("a text message in a SPDY tunnel")

func (t *tunnel) Write(p []byte) (int, error) {
	if err := t.conn.send(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite tells the client the hop's side has ended.
func (t *tunnel) CloseWrite() error {
	return t.conn.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeWait))
}

func (t *tunnel) Close() error                       { return t.conn.ws.Close() }
func (t *tunnel) LocalAddr() net.Addr                { return t.conn.ws.LocalAddr() }
func (t *tunnel) RemoteAddr() net.Addr               { return t.conn.ws.RemoteAddr() }
func (t *tunnel) SetDeadline(d time.Time) error      { return t.conn.ws.NetConn().SetDeadline(d) }
func (t *tunnel) SetReadDeadline(d time.Time) error  { return t.conn.ws.SetReadDeadline(d) }
func (t *tunnel) SetWriteDeadline(d time.Time) error { return t.conn.ws.SetWriteDeadline(d) }
