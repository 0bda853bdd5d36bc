package proxy

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/pkg/agent/netns"
)

// HealthCheck is what one Service's health check node port answers: load
// balancers probe it to send externalTrafficPolicy: Local traffic only to
// nodes that can serve it.
type HealthCheck struct {
	Namespace, Name string
	// Port is spec.healthCheckNodePort.
	Port uint16
	// LocalEndpoints counts the ready endpoints (address and port) on this node.
	LocalEndpoints int
}

// HealthChecks lists the health checks of every LoadBalancer Service with
// externalTrafficPolicy: Local and a health check node port, counting local
// endpoints from m, sorted by port. A port two Services claim (which the API
// server never allows) goes to the first by namespace and name.
func HealthChecks(services []*v1.Service, m Model) []HealthCheck {
	local := map[string]map[Endpoint]bool{}
	for _, sp := range m.Services {
		for _, e := range sp.Endpoints {
			if !e.Local {
				continue
			}
			key := sp.Namespace + "/" + sp.Name
			if local[key] == nil {
				local[key] = map[Endpoint]bool{}
			}
			local[key][Endpoint{IP: e.IP, Port: e.Port}] = true
		}
	}
	var hcs []HealthCheck
	for _, svc := range services {
		port := svc.Spec.HealthCheckNodePort
		if svc.Spec.Type != v1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != v1.ServiceExternalTrafficPolicyLocal ||
			port <= 0 || port > 65535 {
			continue
		}
		hcs = append(hcs, HealthCheck{Namespace: svc.Namespace, Name: svc.Name, Port: uint16(port),
			LocalEndpoints: len(local[svc.Namespace+"/"+svc.Name])})
	}
	slices.SortFunc(hcs, func(a, b HealthCheck) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return slices.CompactFunc(hcs, func(a, b HealthCheck) bool { return a.Port == b.Port })
}

// healthServer serves every health check node port on all of the node's
// addresses, as kube-proxy does: 200 while the Service has a ready endpoint
// on this node and the proxy's last sync succeeded, 503 otherwise. It answers
// every path, so a probe of / works as well as one of /healthz.
type healthServer struct {
	log    *slog.Logger
	nsPath string

	mu        sync.Mutex
	checks    map[uint16]HealthCheck
	healthy   bool
	listeners map[uint16]*http.Server
	// failed holds the ports that could not be listened on, so a port
	// something else holds is reported once, not on every sync.
	failed map[uint16]bool
}

func newHealthServer(log *slog.Logger, nsPath string) *healthServer {
	return &healthServer{log: log, nsPath: nsPath, listeners: map[uint16]*http.Server{}, failed: map[uint16]bool{}}
}

// sync serves exactly the ports of checks, answering from them from now on.
// healthy is whether the proxy's table is programmed. A port that cannot be
// listened on is logged and tried again on the next sync.
func (s *healthServer) sync(checks []HealthCheck, healthy bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = make(map[uint16]HealthCheck, len(checks))
	for _, hc := range checks {
		s.checks[hc.Port] = hc
	}
	s.healthy = healthy
	for port, srv := range s.listeners {
		if _, ok := s.checks[port]; !ok {
			srv.Close()
			delete(s.listeners, port)
		}
	}
	for port := range s.failed {
		if _, ok := s.checks[port]; !ok {
			delete(s.failed, port)
		}
	}
	for _, hc := range checks {
		if s.listeners[hc.Port] != nil {
			continue
		}
		ln, err := listenTCP(s.nsPath, net.JoinHostPort("", strconv.Itoa(int(hc.Port))))
		if err != nil {
			if !s.failed[hc.Port] {
				s.log.Warn("cannot serve a health check node port", "service", hc.Namespace+"/"+hc.Name, "port", hc.Port, "err", err)
			}
			s.failed[hc.Port] = true
			continue
		}
		delete(s.failed, hc.Port)
		srv := &http.Server{Handler: s.handler(hc.Port), ReadHeaderTimeout: 10 * time.Second}
		s.listeners[hc.Port] = srv
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Warn("health check node port stopped", "port", hc.Port, "err", err)
			}
		}()
	}
}

// close stops every listener.
func (s *healthServer) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for port, srv := range s.listeners {
		srv.Close()
		delete(s.listeners, port)
	}
	clear(s.failed)
}

// healthResponse is kube-proxy's answer, field for field.
type healthResponse struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints      int  `json:"localEndpoints"`
	ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
}

func (s *healthServer) handler(port uint16) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		hc, ok := s.checks[port]
		healthy := s.healthy
		s.mu.Unlock()
		if !ok {
			// Between a Service going away and its listener closing.
			http.Error(w, "no service for this port", http.StatusServiceUnavailable)
			return
		}
		var resp healthResponse
		resp.Service.Namespace, resp.Service.Name = hc.Namespace, hc.Name
		resp.LocalEndpoints, resp.ServiceProxyHealthy = hc.LocalEndpoints, healthy
		body, err := json.MarshalIndent(resp, "", "\t")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// Load balancers that weigh nodes read this (as from kube-proxy).
		w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(hc.LocalEndpoints))
		if hc.LocalEndpoints > 0 && healthy {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write(body)
	})
}

// listenTCP listens on addr in the network namespace at nsPath, or in the
// process's own when nsPath is empty. The socket stays in that namespace.
func listenTCP(nsPath, addr string) (ln net.Listener, err error) {
	err = netns.Do(nsPath, func() error {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}
