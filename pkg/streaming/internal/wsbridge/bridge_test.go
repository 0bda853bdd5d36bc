package wsbridge

import (
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

func handshake(method string, protocols ...string) *http.Request {
	r := &http.Request{Method: method, Header: http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}}
	if len(protocols) > 0 {
		r.Header["Sec-Websocket-Protocol"] = protocols
	}
	return r
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       *http.Request
		pick    func(*http.Request) (string, error)
		want    string
		wantErr bool
	}{
		{"kubectl 1.30+", handshake("GET", "v5.channel.k8s.io"), ExecProtocol, "v5.channel.k8s.io", false},
		{"server's preference", handshake("GET", "channel.k8s.io, v4.channel.k8s.io"), ExecProtocol, "v4.channel.k8s.io", false},
		{"conformance test", handshake("GET", "channel.k8s.io"), ExecProtocol, "channel.k8s.io", false},
		{"base64", handshake("GET", "base64.channel.k8s.io"), ExecProtocol, "base64.channel.k8s.io", false},
		{"no subprotocol", handshake("GET"), ExecProtocol, "", false},
		{"unknown subprotocol", handshake("GET", "v9.channel.k8s.io"), ExecProtocol, "", true},
		{"POST", handshake("POST", "v5.channel.k8s.io"), ExecProtocol, "", true},
		{"log", handshake("GET", "binary.k8s.io"), LogProtocol, "binary.k8s.io", false},
		{"log base64", handshake("GET", "base64.binary.k8s.io"), LogProtocol, "base64.binary.k8s.io", false},
		{"log without subprotocol", handshake("GET"), LogProtocol, "", false},
		{"log with a channel protocol", handshake("GET", "v5.channel.k8s.io"), LogProtocol, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.pick(tc.r)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("= %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}

	bad := handshake("GET", "v5.channel.k8s.io")
	bad.Header.Set("Sec-Websocket-Version", "8")
	if _, err := ExecProtocol(bad); err == nil {
		t.Error("a WebSocket version 8 handshake was accepted")
	}
	bad = handshake("GET", "v5.channel.k8s.io")
	bad.Header.Set("Sec-Websocket-Key", "short")
	if _, err := ExecProtocol(bad); err == nil {
		t.Error("a handshake with an invalid key was accepted")
	}
}

func TestTunnelProtocols(t *testing.T) {
	got, err := TunnelProtocols(handshake("GET", "SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io", "SPDY/3.1+other.example.com"))
	if err != nil || !slices.Equal(got, []string{"portforward.k8s.io"}) {
		t.Errorf("= %q, %v; want [portforward.k8s.io]", got, err)
	}
	if got, err := TunnelProtocols(handshake("GET", "portforward.k8s.io")); err == nil {
		t.Errorf("= %q without a tunneling subprotocol, want an error", got)
	}
}

// gatedConn is a connection whose first write waits for its gate, and
// which records the writes it was given.
type gatedConn struct {
	net.Conn
	gate   chan struct{}
	writes chan string
}

func (c *gatedConn) Write(p []byte) (int, error) {
	if c.gate != nil {
		<-c.gate
		c.gate = nil
	}
	c.writes <- string(p)
	return len(p), nil
}

// TestCoalesce: pieces written while a write is under way go out together,
// in order, and Close sends what is pending.
func TestCoalesce(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b)
	gc := &gatedConn{Conn: a, gate: make(chan struct{}), writes: make(chan string, 10)}
	c := coalesce(gc)
	for _, piece := range []string{"frame 1", "head", "er", "data"} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		if piece == "frame 1" {
			time.Sleep(50 * time.Millisecond) // the first is being written
		}
	}
	close(gc.gate)
	io.WriteString(c, "!")
	c.Close()
	var got []string
	for len(gc.writes) > 0 {
		got = append(got, <-gc.writes)
	}
	if want := []string{"frame 1", "headerdata!"}; !slices.Equal(got, want) && !slices.Equal(got, []string{"frame 1", "headerdata", "!"}) {
		t.Errorf("writes %q, want %q", got, want)
	}
	if _, err := io.WriteString(c, "late"); err == nil {
		t.Error("a write after Close succeeded")
	}
}
