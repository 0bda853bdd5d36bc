package apiserver

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"
)

// proxyTransport carries pods/proxy and services/proxy requests. Like
// upstream's, it does not verify a pod's certificate: pods serve https with
// certificates of their own, and the address came from the API, not the user.
var proxyTransport = &http.Transport{
	Proxy:                 nil,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as upstream's pod proxy
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
	MaxIdleConnsPerHost:   8,
	IdleConnTimeout:       90 * time.Second,
}

// serveProxy serves pods/proxy and services/proxy as upstream's API server
// does: the name may be [scheme:]name[:port], the rest of the path after
// /proxy goes to the pod's IP, or to a ready endpoint of the Service, with
// the query; the caller's credentials do not.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, req request) {
	scheme, name, port, ok := splitSchemeNamePort(req.name)
	if !ok {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid request %q", req.name)))
		return
	}
	e, err := s.getEntry(r.Context(), request{res: req.res, namespace: req.namespace, name: name})
	if err != nil {
		writeError(w, err)
		return
	}
	obj, err := e.object()
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	var loc *url.URL
	switch o := obj.(type) {
	case *corev1.Pod:
		loc, err = podLocation(o, scheme, port)
	case *corev1.Node:
		np, ok := s.cfg.Streams.(NodeProxier)
		if !ok {
			writeError(w, apierrors.NewServiceUnavailable("nodes/proxy is not available: this server runs no node agent proxy"))
			return
		}
		if port != "" && port != strconv.Itoa(int(o.Status.DaemonEndpoints.KubeletEndpoint.Port)) {
			writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("nodes/proxy reaches the node agent's port (%d) only", o.Status.DaemonEndpoints.KubeletEndpoint.Port)))
			return
		}
		out := r.Clone(r.Context())
		out.Header.Del("Authorization")
		out.Header.Del("Impersonate-User")
		out.Header.Del("Impersonate-Group")
		path := proxyPath(r, req)
		if path == "" {
			path = "/"
		}
		np.ServeNodeProxy(w, out, o.Name, path)
		return
	case *corev1.Service:
		if h := s.cfg.ServiceHandlers[o.Namespace+"/"+o.Name]; h != nil {
			serveInProcess(w, r, req, o, port, h)
			return
		}
		loc, err = s.serviceLocation(o, scheme, port)
	default:
		err = apierrors.NewNotFound(req.res.groupResource(), req.name+"/proxy")
		err.(*apierrors.StatusError).ErrStatus.Message = fmt.Sprintf("%s/proxy is not served", req.res.Name)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	loc.Path = proxyPath(r, req)
	loc.RawQuery = r.URL.RawQuery
	// Upstream's handler: links in HTML pages and redirects are rewritten to
	// stay under this proxy path, and upgrades (WebSocket) are carried.
	out := r.Clone(r.Context())
	// The API server's credentials are for the API server.
	out.Header.Del("Authorization")
	out.Header.Del("Impersonate-User")
	out.Header.Del("Impersonate-Group")
	h := utilproxy.NewUpgradeAwareHandler(loc, proxyTransport, true, false, proxyErrors{req.res.Singular})
	h.ServeHTTP(w, out)
}

// proxyErrors answers a backend that cannot be reached with a 503 Status.
type proxyErrors struct{ what string }

func (e proxyErrors) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach %s: %v", e.what, err)))
}

// proxyPath is the path a proxy request goes on with: what follows /proxy,
// with the trailing slash the client sent ("" for the bare root).
func proxyPath(r *http.Request, req request) string {
	_, rest, _ := strings.Cut(req.subresource, "/")
	if strings.HasSuffix(r.URL.Path, "/") && !strings.HasSuffix(rest, "/") {
		rest += "/"
	}
	if rest == "" {
		// The proxy root without its slash: upstream's handler sends a GET
		// or HEAD on to the root with it (301), and the rest to "/".
		return ""
	}
	return "/" + strings.TrimPrefix(rest, "/")
}

// serveInProcess hands a services/proxy request to the handler this process
// serves the Service with. A request for the proxy root without its slash is
// sent to it, so that the page's relative links resolve under the proxy.
func serveInProcess(w http.ResponseWriter, r *http.Request, req request, svc *corev1.Service, port string, h http.Handler) {
	if port != "" && !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
		return p.Name == port || strconv.Itoa(int(p.Port)) == port
	}) {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", req.name)))
		return
	}
	path := proxyPath(r, req)
	if path == "" {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			target := "proxy/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			// Relative, so that it holds behind any proxy prefix (kubectl proxy's).
			w.Header().Set("Location", target)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		path = "/"
	}
	in := r.Clone(r.Context())
	in.URL.Path, in.URL.RawPath = path, ""
	in.RequestURI = in.URL.RequestURI()
	// The API server's credentials are for the API server; the handler has
	// the caller as the context's user.
	in.Header.Del("Authorization")
	h.ServeHTTP(w, in)
}

// splitSchemeNamePort splits [scheme:]name[:port], where scheme is http or
// https (default http).
func splitSchemeNamePort(id string) (scheme, name, port string, ok bool) {
	parts := strings.Split(id, ":")
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		name, port = parts[0], parts[1]
	case 3:
		scheme, name, port = parts[0], parts[1], parts[2]
	default:
		return "", "", "", false
	}
	if name == "" || (len(parts) == 3 && scheme != "http" && scheme != "https") {
		return "", "", "", false
	}
	if scheme == "" {
		scheme = "http"
	}
	return scheme, name, port, true
}

// podLocation is the pod's address: the port named, else its first
// container port, else none. Only a pod's own unicast address is reached.
func podLocation(pod *corev1.Pod, scheme, port string) (*url.URL, error) {
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	ip := net.ParseIP(pod.Status.PodIP)
	if ip == nil || !ip.IsGlobalUnicast() {
		return nil, apierrors.NewBadRequest("address not allowed")
	}
	host := pod.Status.PodIP
	if port != "" {
		host = net.JoinHostPort(pod.Status.PodIP, port)
	}
	return &url.URL{Scheme: scheme, Host: host}, nil
}

// serviceLocation picks a random ready endpoint of the Service's port (named,
// or by number; the unnamed port when none is given) from its Endpoints. An
// address counts only when it is the IP of the pod it names, so a hand-made
// Endpoints object cannot point the API server elsewhere.
func (s *Server) serviceLocation(svc *corev1.Service, scheme, port string) (*url.URL, error) {
	if n, err := strconv.Atoi(port); err == nil {
		found := false
		for _, p := range svc.Spec.Ports {
			if int(p.Port) == n {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, svc.Name))
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("service %q is of type ExternalName: proxy to it is not served", svc.Name))
	}
	noEndpoints := apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
	epRes := s.reg.Lookup("v1", "endpoints")
	podRes := s.reg.Lookup("v1", "pods")
	if epRes == nil || podRes == nil {
		return nil, noEndpoints
	}
	e, _ := s.cache.get(epRes, epRes.key(svc.Namespace, svc.Name))
	if e == nil {
		return nil, noEndpoints
	}
	obj, err := e.object()
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	eps, ok := obj.(*corev1.Endpoints)
	if !ok || len(eps.Subsets) == 0 {
		return nil, noEndpoints
	}
	start := rand.IntN(len(eps.Subsets))
	for i := range eps.Subsets {
		ss := eps.Subsets[(start+i)%len(eps.Subsets)]
		for _, p := range ss.Ports {
			if p.Name != port || len(ss.Addresses) == 0 {
				continue
			}
			first := rand.IntN(len(ss.Addresses))
			for j := range ss.Addresses {
				addr := ss.Addresses[(first+j)%len(ss.Addresses)]
				if !s.isPodAddress(podRes, addr) {
					continue
				}
				return &url.URL{Scheme: scheme, Host: net.JoinHostPort(addr.IP, strconv.Itoa(int(p.Port)))}, nil
			}
		}
	}
	return nil, noEndpoints
}

// isPodAddress is true when the endpoint address names a pod that has that IP.
func (s *Server) isPodAddress(podRes *Resource, addr corev1.EndpointAddress) bool {
	ref := addr.TargetRef
	if ref == nil || ref.Kind != "Pod" {
		return false
	}
	e, _ := s.cache.get(podRes, podRes.key(ref.Namespace, ref.Name))
	if e == nil {
		return false
	}
	obj, err := e.object()
	if err != nil {
		return false
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	for _, ip := range pod.Status.PodIPs {
		if ip.IP == addr.IP {
			return true
		}
	}
	return pod.Status.PodIP == addr.IP
}
