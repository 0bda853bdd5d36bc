package streaming_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

func (c *chain) execURL(pod, subresource string, opts *corev1.PodExecOptions) *url.URL {
	return c.client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name(pod).
		SubResource(subresource).VersionedParams(opts, scheme.ParameterCodec).URL()
}

type execResult struct {
	stdout, stderr string
	err            error
}

// spdyExec runs an exec or attach with client-go's SPDY executor.
func (c *chain) spdyExec(t *testing.T, pod, subresource string, opts *corev1.PodExecOptions, stdin io.Reader, sizes remotecommand.TerminalSizeQueue) execResult {
	t.Helper()
	e, err := remotecommand.NewSPDYExecutor(c.config, http.MethodPost, c.execURL(pod, subresource, opts))
	if err != nil {
		t.Fatal(err)
	}
	return run(t, e, opts, stdin, sizes)
}

func run(t *testing.T, e remotecommand.Executor, opts *corev1.PodExecOptions, stdin io.Reader, sizes remotecommand.TerminalSizeQueue) execResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	so := remotecommand.StreamOptions{Stdin: stdin, Tty: opts.TTY, TerminalSizeQueue: sizes}
	if opts.Stdout {
		so.Stdout = &stdout
	}
	if opts.Stderr {
		so.Stderr = &stderr
	}
	err := e.StreamWithContext(ctx, so)
	return execResult{stdout.String(), stderr.String(), err}
}

// transports are the two ways a client runs exec and attach: SPDY/3.1 (every
// kubectl) and WebSocket v5.channel.k8s.io (kubectl 1.30+, tried first).
var transports = []string{"spdy", "websocket"}

// exec runs an exec or attach with client-go's executor for transport.
func (c *chain) exec(t *testing.T, transport, pod, subresource string, opts *corev1.PodExecOptions, stdin io.Reader, sizes remotecommand.TerminalSizeQueue) execResult {
	t.Helper()
	if transport == "spdy" {
		return c.spdyExec(t, pod, subresource, opts, stdin, sizes)
	}
	e, err := remotecommand.NewWebSocketExecutor(c.config, http.MethodGet, c.execURL(pod, subresource, opts).String())
	if err != nil {
		t.Fatal(err)
	}
	return run(t, e, opts, stdin, sizes)
}

func TestExec(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) { testExec(t, transport) })
	}
}

func testExec(t *testing.T, transport string) {
	c := newChain(t)
	c.running(pod("kubia", "main"))

	t.Run("output", func(t *testing.T) {
		got := c.exec(t, transport, "kubia", "exec", &corev1.PodExecOptions{Command: []string{"echo", "hello", "world"}, Stdout: true, Stderr: true}, nil, nil)
		if got.err != nil || got.stdout != "hello world\n" || got.stderr != "" {
			t.Fatalf("exec echo = %+v, want stdout %q", got, "hello world\n")
		}
	})
	t.Run("exit code", func(t *testing.T) {
		got := c.exec(t, transport, "kubia", "exec", &corev1.PodExecOptions{Command: []string{"exit", "3", "boom"}, Stdout: true, Stderr: true}, nil, nil)
		var exitErr exec.CodeExitError
		if !errors.As(got.err, &exitErr) || exitErr.Code != 3 {
			t.Fatalf("exec exit 3: err = %v (%T), want CodeExitError with code 3", got.err, got.err)
		}
		if got.stderr != "boom\n" {
			t.Errorf("stderr = %q, want %q", got.stderr, "boom\n")
		}
	})
	t.Run("stdin", func(t *testing.T) {
		in := strings.Repeat("some input line\n", 5000)
		got := c.exec(t, transport, "kubia", "exec", &corev1.PodExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true, Stderr: true}, strings.NewReader(in), nil)
		if got.err != nil || got.stdout != in {
			t.Fatalf("exec cat: err %v, %d bytes out, want the %d bytes of stdin back", got.err, len(got.stdout), len(in))
		}
	})
	t.Run("tty resize", func(t *testing.T) {
		sizes := &sizeQueue{sizes: []remotecommand.TerminalSize{{Width: 132, Height: 43}}}
		got := c.exec(t, transport, "kubia", "exec", &corev1.PodExecOptions{Command: []string{"winsize"}, Stdin: true, Stdout: true, TTY: true}, strings.NewReader(""), sizes)
		if got.err != nil || got.stdout != "132x43\n" {
			t.Fatalf("exec winsize with a tty = %+v, want %q", got, "132x43\n")
		}
	})
	t.Run("attach", func(t *testing.T) {
		got := c.exec(t, transport, "kubia", "attach", &corev1.PodExecOptions{Stdin: true, Stdout: true, Stderr: true}, strings.NewReader("typed\n"), nil)
		if got.err != nil || got.stdout != "attached to main\ntyped\n" {
			t.Fatalf("attach = %+v", got)
		}
	})

	// What reached the runtime: the default container, the command, the
	// streams (a terminal has no separate stderr).
	var kinds []string
	for _, r := range c.rt.Requests() {
		kinds = append(kinds, fmt.Sprintf("%s %s/%s %q in=%v out=%v err=%v tty=%v", r.Kind, r.Pod, r.Container, r.Command, r.Stdin, r.Stdout, r.Stderr, r.TTY))
	}
	want := []string{
		`exec kubia/main ["echo" "hello" "world"] in=false out=true err=true tty=false`,
		`exec kubia/main ["exit" "3" "boom"] in=false out=true err=true tty=false`,
		`exec kubia/main ["cat"] in=true out=true err=true tty=false`,
		`exec kubia/main ["winsize"] in=true out=true err=false tty=true`,
		`attach kubia/main [] in=true out=true err=true tty=false`,
	}
	if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
		t.Errorf("runtime requests:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
}

// lockedBuffer collects what several goroutines write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type sizeQueue struct{ sizes []remotecommand.TerminalSize }

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if len(q.sizes) == 0 {
		// Block as a terminal with no more resizes does, until the test ends.
		time.Sleep(time.Hour)
		return nil
	}
	s := q.sizes[0]
	q.sizes = q.sizes[1:]
	return &s
}

func TestPortForward(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	u := c.client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("kubia").SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(c.config)
	if err != nil {
		t.Fatal(err)
	}
	spdyDialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)

	for _, tc := range []struct {
		name   string
		dialer streamhttp.Dialer
	}{
		{"spdy", spdyDialer},
		{"websocket", func() streamhttp.Dialer {
			// No fallback: this works only if the tunnel is served.
			tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, c.config)
			if err != nil {
				t.Fatal(err)
			}
			return tunnel
		}()},
		{"websocket then spdy", func() streamhttp.Dialer {
			tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, c.config)
			if err != nil {
				t.Fatal(err)
			}
			return portforward.NewFallbackDialerForStreaming(tunnel, spdyDialer, func(err error) bool {
				return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
			})
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop, ready := make(chan struct{}), make(chan struct{})
			var out, errOut lockedBuffer
			fw, err := portforward.NewOnAddressesForStreaming(tc.dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, &out, &errOut)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- fw.ForwardPorts() }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("port-forward ended before ready: %v (%s)", err, errOut.String())
			case <-time.After(20 * time.Second):
				t.Fatal("port-forward not ready after 20s")
			}
			ports, err := fw.GetPorts()
			if err != nil || len(ports) != 1 || ports[0].Remote != 8080 {
				t.Fatalf("ports = %v, %v", ports, err)
			}
			for i := range 3 {
				echoOnce(t, fmt.Sprintf("127.0.0.1:%d", ports[0].Local), fmt.Sprintf("ping %d through the pod", i))
			}
			close(stop)
			if err := <-done; err != nil {
				t.Errorf("ForwardPorts: %v", err)
			}
		})
	}
	for _, r := range c.rt.Requests() {
		if r.Kind != "portforward" || r.Pod != "kubia" {
			t.Errorf("runtime request %+v, want portforward to kubia", r)
		}
	}
}

func echoOnce(t *testing.T, addr, msg string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo through port-forward = %q, %v; want %q", buf, err, msg)
	}
}

// TestExecRuntimeFailures: errors from the runtime reach the client as
// upgrade failures with the runtime's message.
func TestExecRuntimeFailures(t *testing.T) {
	c := newChain(t)
	c.running(pod("kubia", "main"))
	c.rt.Stop("default", "kubia", "main")
	got := c.spdyExec(t, "kubia", "exec", &corev1.PodExecOptions{Command: []string{"echo"}, Stdout: true}, nil, nil)
	if got.err == nil || !strings.Contains(got.err.Error(), `container "main" in pod "kubia" is not running`) {
		t.Fatalf("exec into a stopped container: %v", got.err)
	}
}
