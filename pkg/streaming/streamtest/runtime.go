// Package streamtest is an in-memory container runtime for tests of the
// streaming path. Runtime implements server.Runtime: containers are names with
// CRI log files in a temporary directory, and exec, attach and port-forward are
// served over SPDY/3.1 by a local streaming server that speaks what a CRI
// streaming server (containerd's, from the kubelet's streaming library) speaks:
// single-use token URLs, the v4.channel.k8s.io exec protocol with its exit-code
// Status, and portforward.k8s.io stream pairs. It must not be imported by the
// skiff binary.
package streamtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Request is what the runtime was asked for one stream.
type Request struct {
	Kind                       string // "exec", "attach", "portforward"
	Namespace, Pod, Container  string
	Command                    []string
	Stdin, Stdout, Stderr, TTY bool
	Ports                      []int32
}

type container struct {
	restarts int // the current instance writes restarts.log
	started  bool
	running  bool
}

// Runtime is the fake. Its zero value is not usable: call New.
type Runtime struct {
	// LogDir holds the log files, laid out as the kubelet lays out
	// /var/log/pods: NS_POD_UID/CONTAINER/RESTARTS.log.
	LogDir string
	// Exec runs an exec'd command or an attach (Command nil); default Builtin.
	Exec func(ctx context.Context, p *Process) int
	// PortForward serves one forwarded connection; default: echo.
	PortForward func(ctx context.Context, pod string, port int32, conn ReadWriteCloser) error
	// URLFor, when set, replaces the streaming URL of every request (tests
	// point it at servers that misbehave).
	URLFor func(Request) (string, error)

	srv *httptest.Server

	mu         sync.Mutex
	containers map[string]*container
	tokens     map[string]Request
	requests   []Request
}

// New starts a Runtime whose streaming server stops when t ends.
func New(t testing.TB) *Runtime {
	t.Helper()
	rt := &Runtime{
		LogDir:     t.TempDir(),
		containers: map[string]*container{},
		tokens:     map[string]Request{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{token}", rt.serveRemoteCommand)
	mux.HandleFunc("/attach/{token}", rt.serveRemoteCommand)
	mux.HandleFunc("/portforward/{token}", rt.servePortForward)
	rt.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		rt.srv.CloseClientConnections()
		rt.srv.Close()
	})
	return rt
}

// StreamingURL is the base URL of the fake CRI streaming server.
func (rt *Runtime) StreamingURL() string { return rt.srv.URL }

func key(namespace, pod, name string) string { return namespace + "/" + pod + "/" + name }

// AddContainer adds a running container with an empty log.
func (rt *Runtime) AddContainer(namespace, pod, name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.containers[key(namespace, pod, name)] = &container{started: true, running: true}
	rt.touch(namespace, pod, name, 0)
}

// AddWaitingContainer adds a container that has not started yet.
func (rt *Runtime) AddWaitingContainer(namespace, pod, name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.containers[key(namespace, pod, name)] = &container{}
}

// Restart ends the current instance of a container and starts the next one,
// with a new log file.
func (rt *Runtime) Restart(namespace, pod, name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c := rt.mustContainer(namespace, pod, name)
	c.restarts++
	c.running = true
	rt.touch(namespace, pod, name, c.restarts)
}

// Stop ends the current instance (its log file stays).
func (rt *Runtime) Stop(namespace, pod, name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.mustContainer(namespace, pod, name).running = false
}

func (rt *Runtime) mustContainer(namespace, pod, name string) *container {
	c, ok := rt.containers[key(namespace, pod, name)]
	if !ok {
		panic(fmt.Sprintf("streamtest: no container %s", key(namespace, pod, name)))
	}
	return c
}

func (rt *Runtime) logPath(namespace, pod, name string, instance int) string {
	return filepath.Join(rt.LogDir, namespace+"_"+pod+"_uid", name, fmt.Sprintf("%d.log", instance))
}

func (rt *Runtime) touch(namespace, pod, name string, instance int) {
	p := rt.logPath(namespace, pod, name, instance)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	f.Close()
}

// Record formats one CRI log record: "TIME STREAM TAG CONTENT\n".
func Record(t time.Time, stream, tag, content string) string {
	return t.UTC().Format(time.RFC3339Nano) + " " + stream + " " + tag + " " + content + "\n"
}

// AppendLog appends raw CRI records to the current instance's log file.
func (rt *Runtime) AppendLog(namespace, pod, name, records string) {
	rt.mu.Lock()
	c := rt.mustContainer(namespace, pod, name)
	p := rt.logPath(namespace, pod, name, c.restarts)
	rt.mu.Unlock()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if _, err := f.WriteString(records); err != nil {
		panic(err)
	}
}

// Println appends one full stdout or stderr line stamped now.
func (rt *Runtime) Println(namespace, pod, name, stream, line string) {
	rt.AppendLog(namespace, pod, name, Record(time.Now(), stream, "F", line))
}

// Requests returns every stream request the runtime was asked for.
func (rt *Runtime) Requests() []Request {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.requests)
}

var podsResource = schema.GroupResource{Resource: "pods"}

// ContainerLogPath implements server.Runtime with the kubelet's errors.
func (rt *Runtime) ContainerLogPath(namespace, pod, name string, previous bool) (string, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c, ok := rt.containers[key(namespace, pod, name)]
	if !ok {
		return "", apierrors.NewNotFound(podsResource, pod)
	}
	if !c.started {
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", name, pod))
	}
	if previous {
		if c.restarts == 0 {
			return "", apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod))
		}
		return rt.logPath(namespace, pod, name, c.restarts-1), nil
	}
	return rt.logPath(namespace, pod, name, c.restarts), nil
}

// ContainerRunning implements server.RunningReporter.
func (rt *Runtime) ContainerRunning(_ context.Context, namespace, pod, name string) (bool, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c, ok := rt.containers[key(namespace, pod, name)]
	return ok && c.running, nil
}

// ExecURL implements server.Runtime.
func (rt *Runtime) ExecURL(_ context.Context, namespace, pod, name string, cmd []string, stdin, stdout, stderr, tty bool) (string, error) {
	return rt.issue(Request{Kind: "exec", Namespace: namespace, Pod: pod, Container: name, Command: cmd, Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty})
}

// AttachURL implements server.Runtime.
func (rt *Runtime) AttachURL(_ context.Context, namespace, pod, name string, stdin, stdout, stderr, tty bool) (string, error) {
	return rt.issue(Request{Kind: "attach", Namespace: namespace, Pod: pod, Container: name, Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty})
}

// PortForwardURL implements server.Runtime.
func (rt *Runtime) PortForwardURL(_ context.Context, namespace, pod string, ports []int32) (string, error) {
	return rt.issue(Request{Kind: "portforward", Namespace: namespace, Pod: pod, Ports: ports})
}

func (rt *Runtime) issue(req Request) (string, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.requests = append(rt.requests, req)
	if req.Kind != "portforward" {
		c, ok := rt.containers[key(req.Namespace, req.Pod, req.Container)]
		if !ok || !c.running {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is not running", req.Container, req.Pod))
		}
	}
	if rt.URLFor != nil {
		return rt.URLFor(req)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	rt.tokens[token] = req
	return rt.srv.URL + "/" + req.Kind + "/" + token, nil
}

// take redeems a single-use token, as the CRI streaming server does.
func (rt *Runtime) take(token, kind string) (Request, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	req, ok := rt.tokens[token]
	if !ok || req.Kind != kind {
		return Request{}, false
	}
	delete(rt.tokens, token)
	return req, true
}
