package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type probeKind int

const (
	livenessProbe probeKind = iota
	readinessProbe
	startupProbe
)

func (k probeKind) String() string {
	return [...]string{"Liveness", "Readiness", "Startup"}[k]
}

type probeKey struct {
	containerID string
	kind        probeKind
}

// prober runs the probes of running containers: one goroutine per container
// and kind, started when the container is seen running and stopped when it
// is not. Results live in memory only (after an agent restart a container is
// unready until its readiness probe passes again, as upstream).
type prober struct {
	a       *Agent
	mu      sync.Mutex
	workers map[probeKey]*probeWorker
}

type probeWorker struct {
	uid    types.UID
	stop   context.CancelFunc
	result probeResult
}

type probeResult int

const (
	resultUnknown probeResult = iota
	resultSuccess
	resultFailure
)

func newProber(a *Agent) *prober { return &prober{a: a, workers: map[probeKey]*probeWorker{}} }

// succeeded reports whether the container's probe of this kind has passed
// (its current result is success).
func (p *prober) succeeded(containerID string, kind probeKind) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[probeKey{containerID, kind}]
	return w != nil && w.result == resultSuccess
}

// failed reports whether a liveness or startup probe has failed.
func (p *prober) failed(containerID string, kind probeKind) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[probeKey{containerID, kind}]
	return w != nil && w.result == resultFailure
}

// httpGetRequest is the request of an httpGet probe or hook: its path may
// carry a query, and a Host header sets the request's host, as upstream's.
func httpGetRequest(ctx context.Context, g *corev1.HTTPGetAction, host string, port int) (*http.Request, error) {
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if p, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = p.Path, p.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Name, h.Value)
	}
	return req, nil
}

// probeTarget is what a probe worker needs of its pod and container.
type probeTarget struct {
	uid       types.UID
	pod       *corev1.Pod
	container *corev1.Container
	id        string
	podIP     string
	startedAt time.Time
}

// sync starts probe workers for the pod's running containers and stops the
// workers of its containers that are gone.
func (p *prober) sync(pod *corev1.Pod, targets []probeTarget) {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := map[probeKey]bool{}
	for _, t := range targets {
		for kind, probe := range map[probeKind]*corev1.Probe{livenessProbe: t.container.LivenessProbe, readinessProbe: t.container.ReadinessProbe, startupProbe: t.container.StartupProbe} {
			if probe == nil {
				continue
			}
			key := probeKey{t.id, kind}
			live[key] = true
			if p.workers[key] != nil {
				continue
			}
			ctx, cancel := context.WithCancel(context.Background())
			w := &probeWorker{uid: pod.UID, stop: cancel}
			if kind == livenessProbe {
				w.result = resultSuccess
			}
			p.workers[key] = w
			go p.run(ctx, key, probe, t)
		}
	}
	for key, w := range p.workers {
		if !live[key] && w.uid == pod.UID {
			w.stop()
			delete(p.workers, key)
		}
	}
}

// forget stops every probe of the pod.
func (p *prober) forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, w := range p.workers {
		if w.uid == uid {
			w.stop()
			delete(p.workers, key)
		}
	}
}

func (p *prober) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, w := range p.workers {
		w.stop()
		delete(p.workers, key)
	}
}

func (p *prober) run(ctx context.Context, key probeKey, probe *corev1.Probe, t probeTarget) {
	period := time.Duration(max(probe.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	success := int(max(probe.SuccessThreshold, 1))
	failure := int(max(probe.FailureThreshold, 1))
	delay := time.Until(t.startedAt.Add(time.Duration(probe.InitialDelaySeconds) * time.Second))
	if delay > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	okRun, failRun := 0, 0
	for {
		// Liveness and readiness wait for the startup probe to pass.
		if key.kind != startupProbe && t.container.StartupProbe != nil && !p.succeeded(t.id, startupProbe) {
			goto wait
		}
		{
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := p.a.probe(pctx, probe, t, timeout)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				okRun, failRun = okRun+1, 0
			} else {
				okRun, failRun = 0, failRun+1
				if key.kind != readinessProbe || failRun >= failure {
					p.a.event(t.pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %v", key.kind, err)
				}
			}
			var next probeResult
			switch {
			case okRun >= success:
				next = resultSuccess
			case failRun >= failure:
				next = resultFailure
			}
			if next != resultUnknown && p.set(key, next) {
				p.a.kick(t.uid)
				if next == resultFailure && key.kind != readinessProbe {
					return // the container is killed; its successor gets new workers
				}
				if next == resultSuccess && key.kind == startupProbe {
					return // a startup probe runs until it first passes
				}
			}
		}
	wait:
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// set records a result and reports whether it changed.
func (p *prober) set(key probeKey, r probeResult) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[key]
	if w == nil || w.result == r {
		return false
	}
	w.result = r
	return true
}

// probe runs one probe attempt; nil is success.
func (a *Agent) probe(ctx context.Context, probe *corev1.Probe, t probeTarget, timeout time.Duration) error {
	switch {
	case probe.Exec != nil:
		resp, err := a.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: t.id, Cmd: probe.Exec.Command, Timeout: int64(timeout / time.Second)})
		if err != nil {
			return fmt.Errorf("exec %q: %v", probe.Exec.Command, grpcMessage(err))
		}
		if resp.ExitCode != 0 {
			out := strings.TrimSpace(string(resp.Stdout) + string(resp.Stderr))
			return fmt.Errorf("command %q exited with %d: %s", probe.Exec.Command, resp.ExitCode, out)
		}
		return nil
	case probe.HTTPGet != nil:
		return a.httpProbe(ctx, probe.HTTPGet, t)
	case probe.TCPSocket != nil:
		port, err := resolvePort(probe.TCPSocket.Port, t.container)
		if err != nil {
			return err
		}
		host := orDefault(probe.TCPSocket.Host, t.podIP)
		conn, err := a.dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("dial tcp %s:%d: %v", host, port, err)
		}
		return conn.Close()
	case probe.GRPC != nil:
		return a.grpcProbe(ctx, probe.GRPC, t)
	}
	return fmt.Errorf("probe has no handler")
}

func (a *Agent) httpProbe(ctx context.Context, g *corev1.HTTPGetAction, t probeTarget) error {
	port, err := resolvePort(g.Port, t.container)
	if err != nil {
		return err
	}
	req, err := httpGetRequest(ctx, g, orDefault(g.Host, t.podIP), port)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.33")
	req.Header.Set("Accept", "*/*")
	resp, err := a.dialer.HTTPClient(0).Do(req)
	if err != nil {
		return fmt.Errorf("Get %q: %v", req.URL.String(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

func (a *Agent) grpcProbe(ctx context.Context, g *corev1.GRPCAction, t probeTarget) error {
	addr := net.JoinHostPort(t.podIP, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return a.dialer.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("failed to connect service %q within %v: %v", addr, "timeout", grpcMessage(err))
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("service unhealthy (responded with %q)", resp.Status)
	}
	return nil
}

// resolvePort turns a probe's port (a number or a container port's name)
// into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port %q in container %q", p.StrVal, c.Name)
}
