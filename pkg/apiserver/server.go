// Package apiserver serves the Kubernetes API over a storage.Backend.
//
// One generic REST handler serves every kind from its Resource definition: reads come
// from an in-memory cache fed by the storage watch, writes go to storage with
// compare-and-swap and wait until the cache has seen them. It speaks the wire protocol
// real kubectl and client-go expect (Status errors, Tables, watch streams, patches,
// discovery). It must not run controllers or reach into nodes: those are clients.
package apiserver

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiffhq/skiff/pkg/auth/serviceaccount"
	"github.com/skiffhq/skiff/pkg/storage"
)

// User is an authenticated caller.
type User struct {
	Name   string
	UID    string
	Groups []string
	// Extra is what the authenticator knows besides (a service account
	// token's pod, node and credential ID, impersonated extras).
	Extra map[string][]string
}

// PodStreamer serves the streaming pod subresources (log, exec, attach,
// portforward) by proxying to the pod's node. Nil answers 503.
type PodStreamer interface {
	ServePodStream(w http.ResponseWriter, r *http.Request, namespace, pod, subresource string)
}

// NodeProxier is optionally implemented by a PodStreamer: it serves
// nodes/NAME/proxy/PATH by forwarding to the node's agent at PATH.
type NodeProxier interface {
	ServeNodeProxy(w http.ResponseWriter, r *http.Request, node, path string)
}

// Config is what a Server is built from.
type Config struct {
	Storage storage.Backend
	// SharedStorage says other servers may write to Storage too: allocations
	// then take a lock in it (see lockAllocation).
	SharedStorage bool
	Registry      *Registry
	Logger        *slog.Logger
	// ClientCAs verifies client certificates (CN is the user, O the groups).
	ClientCAs *x509.CertPool
	// Tokens maps bearer tokens to users.
	Tokens map[string]User
	// ServiceAccountKey, when set, signs service-account tokens
	// (serviceaccounts/token) and verifies those presented as bearer tokens;
	// ServiceAccountIssuer is their "iss" (default upstream's
	// https://kubernetes.default.svc.cluster.local).
	ServiceAccountKey    *serviceaccount.Key
	ServiceAccountIssuer string
	// LegacyTokenUsed, when set, is told (at most once a day per Secret)
	// that a legacy token kept in a Secret authenticated a request, for the
	// Secret to be labelled kubernetes.io/legacy-token-last-used=DATE.
	LegacyTokenUsed func(namespace, name, uid, date string)
	// RBAC, when set, decides for every identity outside system:masters
	// what the Node authorizer does not allow (upstream's Node,RBAC chain).
	// Without it every authenticated identity but a node may do everything.
	RBAC RBAC
	// Version is what /version answers.
	Version version.Info
	// OpenAPI serves /openapi/v2 and /openapi/v3 when set.
	OpenAPI http.Handler
	// Streams serves pods/log, exec, attach and portforward when set.
	Streams PodStreamer
	// WatchHistory is how many recent events the cache keeps for watches that
	// resume from an older revision (default 10000), and WatchHistoryBytes how
	// many bytes of encoded objects they may hold (default 4 MiB).
	WatchHistory      int
	WatchHistoryBytes int
	// ServiceHandlers serve, in this process, the services/proxy of the
	// Services they are keyed by ("namespace/name"): the rest of the path
	// after /proxy, with the caller as the request's user (UserFrom). The
	// dashboard is reached this way, as upstream's is through its Service.
	ServiceHandlers map[string]http.Handler
	// ExtraHandlers are served for exact non-API paths (after authentication).
	ExtraHandlers map[string]http.Handler
	// SelfAuthorizedPrefixes are the paths of ExtraHandlers that speak a
	// protocol of their own (the image registry's /v2/): they authorize
	// authenticated users themselves, and an anonymous client is asked for
	// credentials with a 401. Every other path is authorized here, and an
	// anonymous request for it gets upstream's 403.
	SelfAuthorizedPrefixes []string
}

// Server is the API server. It is an http.Handler once Run has made it ready.
type Server struct {
	cfg      Config
	reg      *Registry
	cache    *cache
	log      *slog.Logger
	saTokens *serviceAccountTokens

	readyOnce sync.Once
	ready     chan struct{}

	discovery *discoveryDocs
	// allocMu serializes writes that allocate from a shared pool (ClusterIPs,
	// NodePorts) so two creates never take the same value.
	allocMu sync.Mutex
	// lockSeen is the allocation lock as last seen held by another server
	// (under allocMu).
	lockSeen seenLock
	// id names this server process among those sharing its storage.
	id string
	// barrier shares storage's revision among consistent reads.
	barrier revisionBarrier
}

// New builds a server. Call Run to load the cache and start serving.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:   cfg,
		reg:   cfg.Registry,
		log:   cfg.Logger,
		ready: make(chan struct{}),
		id:    newServerID(),
	}
	s.cache = newCache(cfg.Storage, cfg.Registry, cfg.Logger, cfg.WatchHistory, cfg.WatchHistoryBytes)
	tokens, err := newServiceAccountTokens(s)
	if err != nil {
		cfg.Logger.Error("service-account tokens are off", "err", err)
	}
	s.saTokens = tokens
	s.discovery = buildDiscovery(cfg.Registry)
	return s
}

// Run loads every object into the cache, marks the server ready, and follows
// storage until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	if err := s.cache.load(ctx); err != nil {
		return err
	}
	go s.cache.replay(ctx, s.cache.currentRev())
	s.readyOnce.Do(func() { close(s.ready) })
	return s.cache.run(ctx)
}

// Ready is closed once the server can answer.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ServeHTTP authenticates, authorizes and routes one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, ok := s.authenticate(r)
	if !ok {
		writeError(w, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	user, err := s.impersonate(r, user)
	if err != nil {
		writeError(w, err)
		return
	}
	s.ServeAs(w, r, user)
}

// ServeAs serves r for user, who is authorized like any caller: for a
// component of this process that acts for the user it serves (the dashboard
// behind the service proxy), without credentials of its own.
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, user User) {
	r = r.WithContext(withUser(r.Context(), user))
	path := r.URL.Path
	if (strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/apis/")) && path != "/api/" && path != "/apis/" {
		// Resource requests are authorized once their path is parsed.
		s.serveAPI(w, r)
		return
	}
	extra := s.extraHandler(path)
	if extra != nil && s.selfAuthorized(path) {
		if isAnonymous(user) {
			writeError(w, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		extra.ServeHTTP(w, r)
		return
	}
	if err := s.authorize(pathAttributes(r, user)); err != nil {
		writeError(w, err)
		return
	}
	switch {
	case path == "/healthz" || path == "/livez" || path == "/readyz" ||
		strings.HasPrefix(path, "/healthz/") || strings.HasPrefix(path, "/livez/") || strings.HasPrefix(path, "/readyz/"):
		s.serveHealth(w, r)
	case path == "/version" || path == "/version/":
		writeObject(w, http.StatusOK, s.cfg.Version)
	case strings.HasPrefix(path, "/openapi/"):
		if s.cfg.OpenAPI == nil {
			writeError(w, notFound())
			return
		}
		s.cfg.OpenAPI.ServeHTTP(w, r)
	case path == "/api" || path == "/api/" || path == "/apis" || path == "/apis/":
		s.serveDiscovery(w, r)
	case path == "/":
		s.serveRootPaths(w)
	case extra != nil:
		extra.ServeHTTP(w, r)
	default:
		writeError(w, notFound())
	}
}

// extraHandler is the handler of ExtraHandlers serving path, or nil.
func (s *Server) extraHandler(path string) http.Handler {
	if h, ok := s.cfg.ExtraHandlers[path]; ok {
		return h
	}
	for prefix, h := range s.cfg.ExtraHandlers {
		if strings.HasSuffix(prefix, "/") && strings.HasPrefix(path, prefix) {
			return h
		}
	}
	return nil
}

// selfAuthorized reports whether path is served by a handler that authorizes
// its own requests.
func (s *Server) selfAuthorized(path string) bool {
	for _, p := range s.cfg.SelfAuthorizedPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// notFound is upstream's answer for a path nothing serves.
func notFound() error {
	return apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "", 0, false)
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.ready:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if r.URL.Query().Has("verbose") {
			_, _ = w.Write([]byte("[+]ping ok\n[+]storage ok\n[+]cache ok\n" + strings.TrimPrefix(r.URL.Path, "/") + " check passed\n"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	default:
		http.Error(w, "cache not loaded", http.StatusServiceUnavailable)
	}
}

func (s *Server) serveRootPaths(w http.ResponseWriter) {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2", "/openapi/v3"}
	for _, g := range s.discovery.groupVersions {
		paths = append(paths, "/apis/"+g)
	}
	writeObject(w, http.StatusOK, map[string][]string{"paths": paths})
}

type userKey struct{}

func withUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// WithUser returns ctx with u as its user, as authentication leaves it: for
// tests of handlers the API server serves (ServiceHandlers).
func WithUser(ctx context.Context, u User) context.Context { return withUser(ctx, u) }

// UserFrom returns the authenticated user of a request context.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// authenticate accepts a client certificate signed by the cluster CA or a known
// bearer token. A request without credentials is anonymous, as upstream's with
// --anonymous-auth; one with credentials that do not check out is refused.
func (s *Server) authenticate(r *http.Request) (User, bool) {
	// The TLS handshake verified the chain against the cluster CA for client
	// use (ClientAuth VerifyClientCertIfGiven); VerifiedChains is its verdict.
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && s.cfg.ClientCAs != nil {
		cert := r.TLS.VerifiedChains[0][0]
		return User{Name: cert.Subject.CommonName, Groups: withAuthenticated(cert.Subject.Organization)}, true
	}
	// As upstream's bearer authenticator: a header of another scheme is no
	// credential at all, a bearer token that is not known is a wrong one.
	if parts := strings.Fields(r.Header.Get("Authorization")); len(parts) >= 2 && strings.EqualFold(parts[0], "bearer") {
		u, ok := s.cfg.Tokens[parts[1]]
		if !ok {
			return s.saTokens.authenticate(parts[1])
		}
		return User{Name: u.Name, Groups: withAuthenticated(u.Groups)}, true
	}
	return anonymous(), true
}

// withAuthenticated adds system:authenticated to an authenticated user's groups.
func withAuthenticated(groups []string) []string {
	for _, g := range groups {
		if g == authenticatedGroup {
			return groups
		}
	}
	return append(append(make([]string, 0, len(groups)+1), groups...), authenticatedGroup)
}
