package streaming_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xws "golang.org/x/net/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/skiffhq/skiff/pkg/streaming/proxy"
)

// rawWebSocket opens a WebSocket to u as upstream's conformance tests do
// (test/e2e/framework/websocket): golang.org/x/net/websocket, the client's
// credentials in the handshake's headers, Origin http://localhost.
func (c *chain) rawWebSocket(t *testing.T, u *url.URL, protocols ...string) (*xws.Conn, error) {
	t.Helper()
	tlsConfig, err := rest.TLSConfigFor(c.config)
	if err != nil {
		t.Fatal(err)
	}
	u = &url.URL{Scheme: "wss", Host: u.Host, Path: u.Path, RawQuery: u.RawQuery}
	cfg, err := xws.NewConfig(u.String(), "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Header = http.Header{"Authorization": {"Bearer " + c.config.BearerToken}}
	cfg.TlsConfig = tlsConfig
	cfg.Protocol = protocols
	ws, err := xws.DialConfig(cfg)
	if err == nil {
		ws.SetDeadline(time.Now().Add(20 * time.Second))
	}
	return ws, err
}

// receiveAll reads messages until the server closes the WebSocket.
func receiveAll(t *testing.T, ws *xws.Conn) [][]byte {
	t.Helper()
	var msgs [][]byte
	for {
		var msg []byte
		if err := xws.Message.Receive(ws, &msg); err != nil {
			if err != io.EOF {
				t.Fatalf("reading the WebSocket: %v (after %q)", err, msgs)
			}
			return msgs
		}
		msgs = append(msgs, msg)
	}
}

// TestExecWebSocketConformance is upstream's conformance test "Pods should
// support remote command execution over websockets": channel.k8s.io, every
// message on stdout but empty ones, and the server closes the WebSocket.
func TestExecWebSocketConformance(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	u := c.client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("kubia").Suffix("exec").
		Param("stderr", "1").Param("stdout", "1").Param("container", "main").
		Param("command", "echo").Param("command", "remote execution test").URL()
	ws, err := c.rawWebSocket(t, u, "channel.k8s.io")
	if err != nil {
		t.Fatalf("opening the WebSocket: %v", err)
	}
	defer ws.Close()
	if p := ws.Config().Protocol; len(p) != 1 || p[0] != "channel.k8s.io" {
		t.Errorf("negotiated subprotocol %q, want channel.k8s.io", p)
	}
	var stdout bytes.Buffer
	for _, msg := range receiveAll(t, ws) {
		switch {
		case len(msg) == 0:
		case msg[0] == 1:
			stdout.Write(msg[1:])
		case len(msg) > 1:
			t.Errorf("message %q is not on stdout (channel 1)", msg)
		}
	}
	if stdout.String() != "remote execution test\n" {
		t.Errorf("stdout %q, want %q", stdout.String(), "remote execution test\n")
	}
}

// TestExecWebSocketBase64: base64.channel.k8s.io carries every channel as a
// digit and base64 text both ways; before v4 the error channel carries a
// failure's message alone.
func TestExecWebSocketBase64(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	decode := func(msg []byte) (byte, string) {
		t.Helper()
		if len(msg) == 0 {
			t.Fatal("an empty message in base64.channel.k8s.io")
		}
		data, err := base64.StdEncoding.DecodeString(string(msg[1:]))
		if err != nil {
			t.Fatalf("message %q: %v", msg, err)
		}
		return msg[0], string(data)
	}

	t.Run("exit code", func(t *testing.T) {
		u := c.execURL("kubia", "exec", &corev1.PodExecOptions{Command: []string{"exit", "3", "boom"}, Stdout: true, Stderr: true})
		ws, err := c.rawWebSocket(t, u, "base64.channel.k8s.io")
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		got := map[byte]string{}
		for _, msg := range receiveAll(t, ws) {
			ch, data := decode(msg)
			got[ch] += data
		}
		want := map[byte]string{'1': "", '2': "boom\n", '3': "command terminated with non-zero exit code: exit status 3"}
		if len(got) != len(want) || got['1'] != want['1'] || got['2'] != want['2'] || got['3'] != want['3'] {
			t.Errorf("channels %q, want %q", got, want)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		u := c.execURL("kubia", "attach", &corev1.PodExecOptions{Stdin: true, Stdout: true})
		ws, err := c.rawWebSocket(t, u, "base64.channel.k8s.io")
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := xws.Message.Send(ws, "0"+base64.StdEncoding.EncodeToString([]byte("typed\n"))); err != nil {
			t.Fatal(err)
		}
		var stdout string
		for stdout != "attached to main\ntyped\n" {
			var msg []byte
			if err := xws.Message.Receive(ws, &msg); err != nil {
				t.Fatalf("stdout %q, then %v", stdout, err)
			}
			ch, data := decode(msg)
			if ch != '1' {
				t.Fatalf("message %q on channel %c", data, ch)
			}
			stdout += data
		}
	})
}

// TestExecWebSocketV4 drives v4.channel.k8s.io (the CRI streaming servers'
// WebSocket protocol) with client-go: the exit code travels as a Status.
func TestExecWebSocketV4(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	opts := &corev1.PodExecOptions{Command: []string{"exit", "3", "boom"}, Stdout: true, Stderr: true}
	e, err := remotecommand.NewWebSocketExecutorForProtocols(c.config, http.MethodGet, c.execURL("kubia", "exec", opts).String(), "v4.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, e, opts, nil, nil)
	var exitErr exec.CodeExitError
	if !errors.As(got.err, &exitErr) || exitErr.Code != 3 || got.stderr != "boom\n" {
		t.Fatalf("v4 exec exit 3 = %+v, want CodeExitError 3 and stderr %q", got, "boom\n")
	}
}

// TestExecWebSocketFallsBack: a WebSocket subprotocol the server does not
// speak is refused before anything is dialled, as an upgrade failure, so
// kubectl's fallback to SPDY/3.1 takes over.
func TestExecWebSocketFallsBack(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	opts := &corev1.PodExecOptions{Command: []string{"echo", "over", "spdy"}, Stdout: true, Stderr: true}
	u := c.execURL("kubia", "exec", opts)

	ws, err := remotecommand.NewWebSocketExecutorForProtocols(c.config, http.MethodGet, u.String(), "v9.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, ws, opts, nil, nil)
	if !streamhttp.IsUpgradeFailure(got.err) || !strings.Contains(got.err.Error(), "v9.channel.k8s.io") {
		t.Fatalf("WebSocket exec with an unknown subprotocol: err = %v, want an upgrade failure naming it", got.err)
	}
	if n := len(c.rt.Requests()); n != 0 {
		t.Errorf("the runtime was asked for %d streams for a refused upgrade", n)
	}
	spdyExec, err := remotecommand.NewSPDYExecutor(c.config, http.MethodPost, u)
	if err != nil {
		t.Fatal(err)
	}
	fallback, err := remotecommand.NewFallbackExecutor(ws, spdyExec, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	got = run(t, fallback, opts, nil, nil)
	if got.err != nil || got.stdout != "over spdy\n" {
		t.Fatalf("fallback exec = %+v", got)
	}
}

// TestExecWebSocketRuntimeFailure: the runtime's refusal reaches a WebSocket
// client as the upgrade's answer, with the runtime's message.
func TestExecWebSocketRuntimeFailure(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Stop("default", "kubia", "main")
	got := c.exec(t, "websocket", "kubia", "exec", &corev1.PodExecOptions{Command: []string{"echo"}, Stdout: true}, nil, nil)
	if !streamhttp.IsUpgradeFailure(got.err) || !strings.Contains(got.err.Error(), `container "main" in pod "kubia" is not running`) {
		t.Fatalf("WebSocket exec into a stopped container: %v", got.err)
	}
}

// TestLogsWebSocket is upstream's conformance test "should support
// retrieving logs from the container over websockets", and its base64 and
// follow forms.
func TestLogsWebSocket(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Println("default", "kubia", "main", "stdout", "container is alive")
	logURL := func(follow bool) *url.URL {
		r := c.client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("kubia").Suffix("log").Param("container", "main")
		if follow {
			r = r.Param("follow", "true")
		}
		return r.URL()
	}

	for _, tc := range []struct {
		protocol string
		decode   func([]byte) ([]byte, error)
	}{
		{"binary.k8s.io", func(b []byte) ([]byte, error) { return b, nil }},
		{"base64.binary.k8s.io", func(b []byte) ([]byte, error) { return base64.StdEncoding.DecodeString(string(b)) }},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			ws, err := c.rawWebSocket(t, logURL(false), tc.protocol)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			msgs := receiveAll(t, ws)
			if len(msgs) == 0 || len(msgs[0]) != 0 {
				t.Errorf("messages %q: the first is not the empty one upstream sends", msgs)
			}
			var log bytes.Buffer
			for _, m := range msgs {
				b, err := tc.decode(m)
				if err != nil {
					t.Fatalf("message %q: %v", m, err)
				}
				log.Write(b)
			}
			if log.String() != "container is alive\n" {
				t.Errorf("log %q", log.String())
			}
		})
	}

	t.Run("follow", func(t *testing.T) {
		ws, err := c.rawWebSocket(t, logURL(true), "binary.k8s.io")
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		next := func(want string) {
			t.Helper()
			var got string
			for got != want {
				var msg []byte
				if err := xws.Message.Receive(ws, &msg); err != nil {
					t.Fatalf("got %q, then %v; want %q", got, err, want)
				}
				got += string(msg)
			}
		}
		next("container is alive\n")
		c.rt.Println("default", "kubia", "main", "stdout", "a line written while following")
		next("a line written while following\n")
		c.rt.Stop("default", "kubia", "main")
		if rest := receiveAll(t, ws); len(rest) != 0 {
			t.Errorf("after the container stopped: %q, want the WebSocket closed", rest)
		}
	})

	t.Run("error before the upgrade", func(t *testing.T) {
		u := c.client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("kubia").Suffix("log").Param("container", "nope").URL()
		ws, err := c.rawWebSocket(t, u, "binary.k8s.io")
		if err == nil {
			ws.Close()
			t.Fatal("a log of a container the pod does not have was upgraded")
		}
		var de *xws.DialError
		if !errors.As(err, &de) || de.Err != xws.ErrBadStatus {
			t.Errorf("err = %v, want the handshake refused with a status", err)
		}
	})
}

// TestLogsWebSocketClientLeaves: a follower that goes away ends the proxy's
// request to the agent too (the agent would otherwise follow the log for no
// one until the container stops).
func TestLogsWebSocketClientLeaves(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Println("default", "kubia", "main", "stdout", "hello")
	var open atomic.Int32
	p, err := proxy.New(proxy.Config{Getter: c.pods, TLS: c.apiTLS, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		open.Add(1)
		return &countedConn{Conn: conn, open: &open}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	// httptest's servers share one certificate, so c.config trusts this one.
	front := httptest.NewTLSServer(frontHandler(p))
	defer front.Close()
	u := c.client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").Name("kubia").Suffix("log").Param("follow", "true").URL()
	u.Host = front.Listener.Addr().String()
	ws, err := c.rawWebSocket(t, u, "binary.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for got != "hello\n" {
		var msg []byte
		if err := xws.Message.Receive(ws, &msg); err != nil {
			t.Fatal(err)
		}
		got += string(msg)
	}
	if n := open.Load(); n != 1 {
		t.Fatalf("%d connections to the agent while following, want 1", n)
	}
	ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := open.Load(); n != 0 {
		t.Errorf("the proxy still holds %d connections to the agent 5s after the follower left", n)
	}
}

// countedConn keeps open counting connections not yet closed.
type countedConn struct {
	net.Conn
	open *atomic.Int32
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
