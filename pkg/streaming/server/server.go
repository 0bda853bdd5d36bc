// Package server is the node agent's API: the kubelet's /containerLogs,
// /exec, /attach and /portForward paths, and its /healthz, /pods and /metrics (what
// nodes/proxy reaches), served to the API server alone (a client certificate
// from the cluster CA with an allowed common name). Logs are read from the CRI
// log files; exec, attach and port-forward are joined to the container
// runtime's streaming server. It must not talk to the CRI itself (the agent
// supplies a Runtime) nor serve anything else.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
)

// Runtime is what the agent knows about its pods' containers.
type Runtime interface {
	// ContainerLogPath returns the CRI log file of a pod's container (its
	// current instance, or the one before when previous). Errors that are API
	// Statuses reach the client as they are (the kubelet's 400 "container %q in
	// pod %q is waiting to start: ContainerCreating" is one); an fs.ErrNotExist
	// is a 404.
	ContainerLogPath(namespace, pod, container string, previous bool) (string, error)
	// ExecURL, AttachURL and PortForwardURL return the URL of the CRI
	// streaming server for one request: what containerd's Exec, Attach and
	// PortForward RPCs answer.
	ExecURL(ctx context.Context, namespace, pod, container string, cmd []string, stdin, stdout, stderr, tty bool) (string, error)
	AttachURL(ctx context.Context, namespace, pod, container string, stdin, stdout, stderr, tty bool) (string, error)
	PortForwardURL(ctx context.Context, namespace, pod string, ports []int32) (string, error)
}

// RunningReporter is optionally implemented by a Runtime. With it, following a
// log ends once the container has stopped, as with the kubelet; without it,
// following ends when the container restarts or its log file goes away.
type RunningReporter interface {
	ContainerRunning(ctx context.Context, namespace, pod, container string) (bool, error)
}

// PodLister is optionally implemented by a Runtime: the pods bound to its
// node, which /pods answers as a PodList, as the kubelet's does.
type PodLister interface {
	NodePods() ([]*corev1.Pod, error)
}

// MetricsWriter is optionally implemented by a Runtime: it writes the
// node's metrics for /metrics, in the Prometheus text format.
type MetricsWriter interface {
	WriteMetrics(ctx context.Context, w io.Writer) error
}

// APIServerUser is the common name of the client certificate the API server
// presents to agents.
const APIServerUser = "system:apiserver"

var podsResource = schema.GroupResource{Resource: "pods"}

// Config is what a Server is built from.
type Config struct {
	Runtime Runtime
	// AllowedUsers are the client certificate common names admitted
	// (default: APIServerUser). The certificate must chain to the ClientCAs of
	// the TLS configuration the server runs with.
	AllowedUsers []string
	// LogDir, when set, confines log reading: the Runtime's path for a pod's
	// container must be a *.log file under LogDir/NAMESPACE_POD_UID/ (the
	// kubelet's /var/log/pods layout), reached without leaving LogDir through
	// "..", or a symlink. Anything else is a 403.
	LogDir string
	// RuntimeTLS verifies the runtime's streaming server when its URLs are
	// https (nil: the system roots).
	RuntimeTLS *tls.Config
	Logger     *slog.Logger
	// Now is the clock for sinceSeconds (tests).
	Now func() time.Time
}

// Server answers the API server's streaming requests. It is an http.Handler.
type Server struct {
	cfg     Config
	allowed []string
	relay   wire.Relay
	log     *slog.Logger
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("streaming server: no Runtime")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, allowed: cfg.AllowedUsers, log: cfg.Logger}
	if len(s.allowed) == 0 {
		s.allowed = []string{APIServerUser}
	}
	s.relay = wire.Relay{Dial: s.dialRuntime, Log: cfg.Logger}
	return s, nil
}

// TLSConfig is the agent's listener configuration: its serving certificate,
// client certificates verified against clientCAs (the cluster CA), HTTP/1.1
// only since upgrades cannot cross HTTP/2.
func TLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    clientCAs,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// Serve answers on ln with TLS until ctx ends. Upgraded sessions end with it.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         tlsConfig,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(shutdownCtx) != nil {
			srv.Close()
		}
	}()
	err := srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// ServeHTTP authenticates the caller and routes the kubelet paths.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if wire.UpgradeProtocol(r) != wire.NoUpgrade {
		// An upgrade that is not carried through ends the connection.
		w.Header().Set("Connection", "close")
	}
	if err := s.authenticate(r); err != nil {
		wire.WriteStatus(w, err)
		return
	}
	parts, err := splitPath(r.URL)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	route := func(methods ...string) bool {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			wire.WriteStatus(w, apierrors.NewMethodNotSupported(podsResource, r.Method))
			return false
		}
		return true
	}
	switch {
	case len(parts) == 1 && parts[0] == "healthz":
		if route(http.MethodGet, http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok"))
		}
	case len(parts) == 1 && parts[0] == "pods":
		if route(http.MethodGet) {
			s.servePods(w)
		}
	case len(parts) == 1 && parts[0] == "metrics":
		if route(http.MethodGet) {
			s.serveMetrics(w, r)
		}
	case len(parts) == 4 && parts[0] == "containerLogs":
		if err := validNames(parts[1], parts[2], parts[3]); err != nil {
			wire.WriteStatus(w, err)
			return
		}
		if route(http.MethodGet) {
			s.serveLogs(w, r, parts[1], parts[2], parts[3])
		}
	case len(parts) == 4 && (parts[0] == "exec" || parts[0] == "attach"):
		if err := validNames(parts[1], parts[2], parts[3]); err != nil {
			wire.WriteStatus(w, err)
			return
		}
		if route(http.MethodGet, http.MethodPost) {
			s.serveExec(w, r, parts[0], parts[1], parts[2], parts[3])
		}
	case len(parts) == 3 && parts[0] == "portForward":
		if err := validNames(parts[1], parts[2], ""); err != nil {
			wire.WriteStatus(w, err)
			return
		}
		if route(http.MethodGet, http.MethodPost) {
			s.servePortForward(w, r, parts[1], parts[2])
		}
	default:
		wire.WriteStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
			Message: fmt.Sprintf("the node agent serves no %s", r.URL.Path),
		}})
	}
}

// serveMetrics answers /metrics: the node's kubelet metrics, in the
// Prometheus text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	m, ok := s.cfg.Runtime.(MetricsWriter)
	if !ok {
		wire.WriteStatus(w, apierrors.NewServiceUnavailable("this node agent serves no metrics"))
		return
	}
	var buf bytes.Buffer
	if err := m.WriteMetrics(r.Context(), &buf); err != nil {
		wire.WriteStatus(w, apierrors.NewServiceUnavailable(err.Error()))
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// servePods answers /pods: the node's pods as a v1 PodList.
func (s *Server) servePods(w http.ResponseWriter) {
	lister, ok := s.cfg.Runtime.(PodLister)
	if !ok {
		wire.WriteStatus(w, apierrors.NewServiceUnavailable("this node agent does not list its pods"))
		return
	}
	pods, err := lister.NodePods()
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, p := range pods {
		list.Items = append(list.Items, *p)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}

// authenticate admits a verified client certificate whose common name is
// allowed: 401 without one, 403 for anyone else.
func (s *Server) authenticate(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return apierrors.NewUnauthorized("a client certificate from the cluster CA is required")
	}
	user := r.TLS.VerifiedChains[0][0].Subject.CommonName
	if !slices.Contains(s.allowed, user) {
		return apierrors.NewForbidden(podsResource, "", fmt.Errorf("user %q may not use the node agent's API: only the API server may", user))
	}
	return nil
}

// splitPath splits the escaped path into unescaped segments, so an encoded
// "/" stays inside its segment (and then fails name validation).
func splitPath(u *url.URL) ([]string, error) {
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid path %q", u.EscapedPath()))
		}
		parts[i] = s
	}
	return parts, nil
}

// validNames refuses anything but a namespace (DNS label), a pod name (DNS
// subdomain) and a container name (DNS label): no "..", "/" or NUL can reach a
// file path.
func validNames(namespace, pod, container string) error {
	check := func(what, v string, errs []string) error {
		if len(errs) > 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid %s name %q: %s", what, v, strings.Join(errs, "; ")))
		}
		return nil
	}
	if err := check("namespace", namespace, validation.IsDNS1123Label(namespace)); err != nil {
		return err
	}
	if err := check("pod", pod, validation.IsDNS1123Subdomain(pod)); err != nil {
		return err
	}
	if container != "" {
		return check("container", container, validation.IsDNS1123Label(container))
	}
	return nil
}
