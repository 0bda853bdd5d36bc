package wsbridge

import (
	"encoding/base64"
	"io"
	"net/http"

	"github.com/gorilla/websocket"
)

// logProtocols are upstream's for a streamed body, best first: the bytes as
// they are in binary messages, or base64 in text messages. None is binary.
var logProtocols = []string{"binary.k8s.io", "base64.binary.k8s.io", ""}

// LogProtocol picks the protocol of a pods/log WebSocket request; an error
// is the 400 to answer.
func LogProtocol(r *http.Request) (string, error) { return negotiate(r, logProtocols) }

// ServeLog sends log to the client of a WebSocket request in protocol (from
// LogProtocol): an empty message first, as upstream's does, then one message
// for each read, then a close. Messages from the client are ignored; when it
// goes away, log is closed, which must end a Read in progress.
func ServeLog(w http.ResponseWriter, r *http.Request, protocol string, log io.ReadCloser) {
	defer log.Close()
	ws, err := upgrade(w, r, protocol)
	if err != nil {
		return
	}
	defer ws.finish()
	go func() {
		defer ws.clientGone()
		defer log.Close()
		for {
			if _, _, err := ws.ws.NextReader(); err != nil {
				return
			}
		}
	}()
	send := func(p []byte) error { return ws.send(websocket.BinaryMessage, p) }
	if protocol == "base64.binary.k8s.io" {
		send = func(p []byte) error {
			return ws.send(websocket.TextMessage, []byte(base64.StdEncoding.EncodeToString(p)))
		}
	}
	if send(nil) != nil {
		return
	}
	buf := make([]byte, chunk)
	for {
		n, err := log.Read(buf)
		if n > 0 && send(buf[:n]) != nil {
			return
		}
		if err != nil {
			return
		}
	}
}
