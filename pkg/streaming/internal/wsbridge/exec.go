package wsbridge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/skiffhq/skiff/pkg/streaming/internal/podopts"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// execProtocols are the channel protocols served, best first: those of
// upstream's API server (v5) and of the CRI streaming servers it used to
// proxy WebSocket exec to (v4, the unversioned one, their base64 forms, and
// none at all, which is channel.k8s.io).
var execProtocols = []string{
	remotecommand.StreamProtocolV5Name,
	"v4.channel.k8s.io",
	"v4.base64.channel.k8s.io",
	"channel.k8s.io",
	"base64.channel.k8s.io",
	"",
}

// ExecProtocol picks the channel protocol of an exec or attach WebSocket
// request; an error is the 400 to answer.
func ExecProtocol(r *http.Request) (string, error) { return negotiate(r, execProtocols) }

// Channels of the channel protocols: a message's first byte (in base64
// protocols its ASCII digit) names one.
const (
	chStdin  = remotecommand.StreamStdIn
	chStdout = remotecommand.StreamStdOut
	chStderr = remotecommand.StreamStdErr
	chError  = remotecommand.StreamErr
	chResize = remotecommand.StreamResize
	chClose  = remotecommand.StreamClose // v5: [255, ch] ends the client's input on ch
)

// pingPeriod keeps the SPDY session to the agent alive through idle
// stretches, as kubectl's own SPDY client does.
const pingPeriod = 5 * time.Second

// channels is one exec or attach: a WebSocket speaking a channel protocol on
// one side, the v4.channel.k8s.io SPDY streams to the agent on the other.
type channels struct {
	ws *conn
	// base64: text messages, the channel as a digit, the data in base64.
	base64 bool
	// jsonStatus (v4, v5): the error channel carries the exit Status as
	// JSON; older protocols send a failure's message alone, success nothing.
	jsonStatus bool
	// closeSignal (v5): the client ends stdin with [255, 0].
	closeSignal bool

	stdin, stdout, stderr, errs, resize httpstream.Stream
}

// ServeExec serves an exec or attach WebSocket request whose channel
// protocol was negotiated, with the streams s: it opens the agent's SPDY
// session and its streams, then accepts the WebSocket and carries the
// session until the command's Status has been sent.
func ServeExec(w http.ResponseWriter, r *http.Request, protocol string, s podopts.Streams, hop Hop) {
	if s.TTY {
		s.Stderr = false // a terminal has one output, as the kubelet's rules say
	}
	backend, err := hop(r.Context(), remotecommand.StreamProtocolV4Name)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	if backend.Protocol != remotecommand.StreamProtocolV4Name {
		backend.Close()
		wire.WriteStatus(w, bridgeError("the node answered stream protocol %q, want %s", backend.Protocol, remotecommand.StreamProtocolV4Name))
		return
	}
	coalesced := coalesce(backend)
	session, err := spdy.NewClientConnectionWithPings(coalesced, pingPeriod)
	if err != nil {
		coalesced.Close()
		wire.WriteStatus(w, bridgeError("SPDY session with the node: %v", err))
		return
	}
	defer session.Close()
	c := &channels{
		base64:      strings.Contains(protocol, "base64."),
		jsonStatus:  strings.HasPrefix(protocol, "v4.") || strings.HasPrefix(protocol, "v5."),
		closeSignal: protocol == remotecommand.StreamProtocolV5Name,
	}
	if err := c.open(session, s); err != nil {
		wire.WriteStatus(w, bridgeError("opening the exec streams on the node: %v", err))
		return
	}
	if c.ws, err = upgrade(w, r, protocol); err != nil {
		return
	}
	// The session ends with the server that serves r.
	stop := context.AfterFunc(r.Context(), func() {
		c.ws.ws.Close()
		session.Close()
	})
	defer stop()

	go func() {
		c.readClient()
		// A client that left takes the command's streams with it.
		session.Close()
	}()
	c.run()
}

func bridgeError(format string, args ...any) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadGateway, Message: fmt.Sprintf(format, args...),
	}}
}

// open creates the SPDY streams as client-go's v4 client does: error first,
// then those asked for (a terminal has resize and no stderr).
func (c *channels) open(session httpstream.Connection, s podopts.Streams) error {
	for _, st := range []struct {
		want bool
		typ  string
		into *httpstream.Stream
	}{
		{true, corev1.StreamTypeError, &c.errs},
		{s.Stdin, corev1.StreamTypeStdin, &c.stdin},
		{s.Stdout, corev1.StreamTypeStdout, &c.stdout},
		{s.Stderr, corev1.StreamTypeStderr, &c.stderr},
		{s.TTY, corev1.StreamTypeResize, &c.resize},
	} {
		if !st.want {
			continue
		}
		h := http.Header{}
		h.Set(corev1.StreamType, st.typ)
		stream, err := session.CreateStream(h)
		if err != nil {
			return err
		}
		*st.into = stream
	}
	return nil
}

// run forwards the command's output, then its Status, then closes.
func (c *channels) run() {
	defer c.ws.finish()
	// An empty message on the first output channel tells the client the
	// streams are ready, as upstream's servers do.
	ready := byte(chError)
	switch {
	case c.stdout != nil:
		ready = chStdout
	case c.stderr != nil:
		ready = chStderr
	}
	if c.sendOn(ready, nil) != nil {
		return
	}
	// The error stream is read from the start, as client-go's v4 client
	// reads it: spdystream hands a stream's data over only when it is read,
	// and a runtime that closes the session without ending the output
	// streams ends them only once every frame has been handed over.
	statusc := make(chan []byte, 1)
	go func() {
		status, _ := io.ReadAll(io.LimitReader(c.errs, 64<<10))
		_, _ = io.Copy(io.Discard, c.errs)
		statusc <- status
	}()
	done := make(chan struct{}, 2)
	outputs := 0
	for ch, src := range map[byte]httpstream.Stream{chStdout: c.stdout, chStderr: c.stderr} {
		if src == nil {
			continue
		}
		outputs++
		go func() {
			c.forward(ch, src)
			done <- struct{}{}
		}()
	}
	for range outputs {
		<-done
	}
	// The Status is the session's last word: a client stops reading at it.
	_ = c.sendStatus(<-statusc)
}

// forward copies one output stream to its channel. If the client stops
// taking it the rest is drained, so the SPDY session (shared by every
// stream) is not held up.
func (c *channels) forward(ch byte, src io.Reader) {
	buf := make([]byte, chunk)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if c.sendOn(ch, buf[:n]) != nil {
				_, _ = io.Copy(io.Discard, src)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// sendOn sends data on channel ch in the negotiated encoding.
func (c *channels) sendOn(ch byte, data []byte) error {
	if c.base64 {
		return c.ws.send(websocket.TextMessage, []byte{'0' + ch}, []byte(base64.StdEncoding.EncodeToString(data)))
	}
	return c.ws.send(websocket.BinaryMessage, []byte{ch}, data)
}

// sendStatus passes the runtime's v4 Status on to the client: as it is for
// v4 and v5 (an empty one is success, as client-go reads it), as the
// failure's message alone for older protocols.
func (c *channels) sendStatus(status []byte) error {
	if c.jsonStatus {
		if len(status) == 0 {
			status, _ = json.Marshal(metav1.Status{Status: metav1.StatusSuccess})
		}
		return c.sendOn(chError, status)
	}
	var st metav1.Status
	if len(status) == 0 || json.Unmarshal(status, &st) != nil || st.Status == metav1.StatusSuccess {
		return nil
	}
	return c.sendOn(chError, []byte(st.Message))
}

// readClient carries the client's messages to the SPDY streams (stdin,
// resize, v5's close signal) until the client's side ends.
func (c *channels) readClient() {
	defer c.ws.clientGone()
	buf := make([]byte, chunk)
	for {
		_, msg, err := c.ws.ws.NextReader()
		if err != nil {
			return
		}
		var head [1]byte
		if _, err := io.ReadFull(msg, head[:]); err != nil {
			continue // an empty message says nothing
		}
		ch := head[0]
		if c.closeSignal && ch == chClose {
			if _, err := io.ReadFull(msg, head[:]); err == nil && head[0] == chStdin && c.stdin != nil {
				c.stdin.Close()
			}
			continue
		}
		if c.base64 {
			ch -= '0'
			msg = base64.NewDecoder(base64.StdEncoding, msg)
		}
		var dst io.Writer
		switch ch {
		case chStdin:
			dst = c.stdin
		case chResize:
			// The same JSON TerminalSize objects travel on SPDY's stream.
			dst = c.resize
		}
		if dst != nil {
			// A message goes on as one SPDY frame (or a few, if longer
			// than buf), not one for each TLS record it came in.
			for {
				n, err := io.ReadFull(msg, buf)
				if n > 0 {
					// A write after stdin was closed fails; the client is
					// told nothing, as upstream's servers tell it nothing.
					_, _ = dst.Write(buf[:n])
				}
				if err != nil {
					break
				}
			}
		}
	}
}
