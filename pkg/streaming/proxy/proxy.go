// Package proxy serves the streaming pod subresources inside the API server
// (pods/log, exec, attach, portforward): it finds the pod's node and forwards the
// request to that node's agent over TLS with the API server's client
// certificate, at the kubelet's own paths. SPDY/3.1 upgrades are joined byte
// for byte, and WebSocket ones translated to SPDY (wsbridge), only after the
// agent answered 101; any other answer ends the client connection with a
// Status. It must not follow redirects or pass the caller's credentials on.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/streaming/internal/podopts"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wire"
	"github.com/skiffhq/skiff/pkg/streaming/internal/wsbridge"
)

// Getter reads pods and nodes.
type Getter interface {
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	GetNode(ctx context.Context, name string) (*corev1.Node, error)
}

// ClientGetter reads pods and nodes through a client: the API server's
// loopback one, which must not be throttled on the client side (each stream
// costs two GETs).
func ClientGetter(c kubernetes.Interface) Getter { return clientGetter{c} }

type clientGetter struct{ c kubernetes.Interface }

func (g clientGetter) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return g.c.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (g clientGetter) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	return g.c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
}

// DefaultContainerAnnotation names the container kubectl picks when none is
// given; the proxy honours it too.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// Config is what a Proxy is built from.
type Config struct {
	Getter Getter
	// TLS is the API server's side of its connections to agents: the client
	// certificate agents admit (server.APIServerUser from the cluster CA) and
	// RootCAs that verify the agents' serving certificates.
	TLS *tls.Config
	// Dial opens TCP connections to agents ("IP:port"); nil dials directly.
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	Logger *slog.Logger
}

// Proxy forwards streaming subresources to node agents. Its method set is
// apiserver.PodStreamer.
type Proxy struct {
	getter Getter
	tls    *tls.Config
	dial   wire.DialFunc
	log    *slog.Logger
	logs   *http.Client
	relay  wire.Relay
}

// New builds a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Getter == nil {
		return nil, errors.New("streaming proxy: no Getter")
	}
	if cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetClientCertificate == nil {
		return nil, errors.New("streaming proxy: TLS needs the API server's client certificate for agents")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{getter: cfg.Getter, tls: cfg.TLS, dial: cfg.Dial, log: cfg.Logger}
	p.logs = &http.Client{
		Transport: &http.Transport{
			DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return wire.DialURL(ctx, p.dial, &url.URL{Scheme: "https", Host: addr}, p.tls)
			},
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: time.Minute,
		},
		// A redirect from an agent is answered, never followed (CVE-2020-8559).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	p.relay = wire.Relay{
		Dial: func(ctx context.Context, u *url.URL) (net.Conn, error) {
			return wire.DialURL(ctx, p.dial, u, p.tls)
		},
		Log: cfg.Logger,
	}
	return p, nil
}

var podsResource = schema.GroupResource{Resource: "pods"}

// ServePodStream serves pods/NAME/{log,exec,attach,portforward}. The caller
// has authenticated the user and checked that the pod exists.
func (p *Proxy) ServePodStream(w http.ResponseWriter, r *http.Request, namespace, name, subresource string) {
	allow := func(methods ...string) bool {
		if slices.Contains(methods, r.Method) {
			return true
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		wire.WriteStatus(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods/" + subresource}, r.Method))
		return false
	}
	switch subresource {
	case "log":
		if allow(http.MethodGet) {
			p.serveLog(w, r, namespace, name)
		}
	case "exec", "attach", "portforward":
		if allow(http.MethodGet, http.MethodPost) {
			p.serveUpgrade(w, r, namespace, name, subresource)
		}
	default:
		// pods/proxy (HTTP to the pod's IP) is not carried by this path.
		wire.WriteStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
			Message: fmt.Sprintf("pods/%s is not served", subresource),
		}})
	}
}

// serveUpgrade carries exec, attach and portforward to the agent: SPDY/3.1
// byte for byte, WebSocket through the bridge that translates it to SPDY.
func (p *Proxy) serveUpgrade(w http.ResponseWriter, r *http.Request, namespace, name, subresource string) {
	// An upgrade that is not carried through ends the connection.
	w.Header().Set("Connection", "close")
	// How the client is served is settled first: nothing is looked up, nor
	// is the agent dialled, for an upgrade that would be refused.
	var serve func(target *url.URL, streams podopts.Streams)
	switch wire.UpgradeProtocol(r) {
	case wire.SPDY:
		serve = func(target *url.URL, _ podopts.Streams) { p.relay.Upgrade(w, r, target) }
	case wire.WebSocket:
		if subresource == "portforward" {
			protocols, err := wsbridge.TunnelProtocols(r)
			if err != nil {
				wire.WriteStatus(w, err)
				return
			}
			serve = func(target *url.URL, _ podopts.Streams) {
				wsbridge.ServeTunnel(w, r, protocols, p.spdyHop(r, target))
			}
			break
		}
		protocol, err := wsbridge.ExecProtocol(r)
		if err != nil {
			wire.WriteStatus(w, err)
			return
		}
		serve = func(target *url.URL, streams podopts.Streams) {
			wsbridge.ServeExec(w, r, protocol, streams, p.spdyHop(r, target))
		}
	default:
		wire.RefuseUpgrade(w, r, "pods/"+subresource)
		return
	}
	target, streams, err := p.streamTarget(r, namespace, name, subresource)
	if err != nil {
		wire.WriteStatus(w, err)
		return
	}
	serve(target, streams)
}

// streamTarget is the agent URL of an exec, attach or portforward, and the
// streams an exec or attach asks for.
func (p *Proxy) streamTarget(r *http.Request, namespace, name, subresource string) (*url.URL, podopts.Streams, error) {
	pod, err := p.getter.GetPod(r.Context(), namespace, name)
	if err != nil {
		return nil, podopts.Streams{}, err
	}
	q := r.URL.Query()
	var path string
	var query url.Values
	var streams podopts.Streams
	if subresource == "portforward" {
		ports, err := podopts.Ports(q, "ports")
		if err != nil {
			return nil, streams, err
		}
		path, query = fmt.Sprintf("/portForward/%s/%s", namespace, name), podopts.PortsQuery(ports)
	} else {
		container, command, s := podopts.Exec(q)
		if container, err = containerFor(pod, container); err != nil {
			return nil, streams, err
		}
		if subresource == "attach" {
			command = nil
		}
		path, query, streams = fmt.Sprintf("/%s/%s/%s/%s", subresource, namespace, name, container), podopts.NodeQuery(command, s), s
	}
	if pod.Spec.NodeName == "" {
		return nil, streams, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	host, err := p.agentHost(r.Context(), pod.Spec.NodeName)
	if err != nil {
		return nil, streams, err
	}
	return &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: query.Encode()}, streams, nil
}

// spdyHop opens the SPDY/3.1 upgrade to the agent that the WebSocket bridge
// speaks for r's client: the same request the relay would send, with the
// bridge's protocol offer.
func (p *Proxy) spdyHop(r *http.Request, target *url.URL) wsbridge.Hop {
	return func(ctx context.Context, protocols ...string) (*wire.Switched, error) {
		h := wire.Forwarded(r)
		h["X-Stream-Protocol-Version"] = protocols
		h.Set("Upgrade", "SPDY/3.1")
		return p.relay.Switch(ctx, http.MethodPost, target, h)
	}
}

// containerFor applies the API server's rules for the container of a log,
// exec or attach: the one named (it must exist, init and ephemeral containers
// included), else the default-container annotation's when it names one, else
// the only container; with several and none named it is a 400 listing them.
func containerFor(pod *corev1.Pod, requested string) (string, error) {
	var all []string
	for _, c := range pod.Spec.InitContainers {
		all = append(all, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		all = append(all, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		all = append(all, c.Name)
	}
	if requested != "" {
		if !slices.Contains(all, requested) {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", requested, pod.Name))
		}
		return requested, nil
	}
	if d := pod.Annotations[DefaultContainerAnnotation]; d != "" && slices.Contains(all, d) {
		return d, nil
	}
	switch len(pod.Spec.Containers) {
	case 1:
		return pod.Spec.Containers[0].Name, nil
	case 0:
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, all))
}

// agentHost is "IP:port" of a node's agent: the port it publishes in
// status.daemonEndpoints.kubeletEndpoint on its InternalIP (else ExternalIP,
// else Hostname).
func (p *Proxy) agentHost(ctx context.Context, nodeName string) (string, error) {
	node, err := p.getter.GetNode(ctx, nodeName)
	if err != nil {
		return "", err
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has not published its agent port (status.daemonEndpoints.kubeletEndpoint.Port)", nodeName))
	}
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return net.JoinHostPort(a.Address, strconv.Itoa(int(port))), nil
			}
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has no address", nodeName))
}
