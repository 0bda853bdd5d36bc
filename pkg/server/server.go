// Package server composes a Skiff control plane: certificates, storage, the API
// server, bootstrap objects and (later) controllers, behind one Run(ctx). It owns
// the data directory layout. It must not implement API semantics itself.
package server

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/auth/rbac"
	"github.com/skiffhq/skiff/pkg/auth/serviceaccount"
	"github.com/skiffhq/skiff/pkg/dashboard"
	"github.com/skiffhq/skiff/pkg/join"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/podnet"
	"github.com/skiffhq/skiff/pkg/registry"
	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/bolt"
	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/streaming/proxy"
	streamserver "github.com/skiffhq/skiff/pkg/streaming/server"
)

// Config is everything `skiff server` takes from its flags.
type Config struct {
	DataDir                                   string
	BindAddress                               string // "" or "0.0.0.0": every address
	HTTPSPort                                 int
	KubeconfigPath                            string // "" means DataDir/kubeconfig.yaml
	ClusterCIDR                               string
	ServiceCIDR                               string
	DisableAgent                              bool
	Logger                                    *slog.Logger
	Out                                       io.Writer // where the ready line goes
	NotReadyToleration, UnreachableToleration int64
	// WatchHistory bounds the API server's watch history (tests make it small).
	WatchHistory int
	// LBPool, when set, gives each LoadBalancer Service its own IP from this CIDR
	// instead of the nodes' addresses.
	LBPool string
	// NodeMonitorGracePeriod is how long a silent node stays Ready (40s).
	NodeMonitorGracePeriod time.Duration
	// PodGCQuarantine is how long a Node must be gone before the pod garbage
	// collector deletes its pods (upstream's 40s; it looks every half of it).
	// Tests shorten it; it has no flag, as upstream's is fixed.
	PodGCQuarantine time.Duration
	// HollowNodes starts this many in-memory nodes (hollow-1 ... hollow-N).
	HollowNodes int
	// NodeName, NodeIP and ContainerRuntimeEndpoint configure this host's agent.
	NodeName, NodeIP, ContainerRuntimeEndpoint string
	// NetworkBackend carries pod traffic between nodes: host-gw (default) or vxlan.
	NetworkBackend string
	// ClusterDomain is the cluster's DNS domain (cluster.local): a Service
	// is NAME.NAMESPACE.svc.ClusterDomain.
	ClusterDomain string
	// ClusterDNS is the kube-dns Service's ClusterIP, the resolver pods are
	// given (default: the 10th address of ServiceCIDR, as upstream's tools
	// choose). New fills it in.
	ClusterDNS string
	// ResolvConf is this host's resolver configuration for its node (see
	// NodeConfig.ResolvConf).
	ResolvConf string
	// DisableControllers runs the API alone (tests that drive one loop by hand).
	DisableControllers bool
	// Storage, when set, replaces the embedded bolt file (tests use memory).
	Storage storage.Backend
	// Disable names the packaged components not to run: "dashboard".
	Disable []string
	// DisableAdmissionPlugins names admission plugins not to run (see
	// AdmissionPlugins), as kube-apiserver's --disable-admission-plugins.
	DisableAdmissionPlugins []string
	// Datastore, when its Endpoints are set, keeps the cluster's state in
	// that etcd (--datastore-endpoint) instead of the embedded bolt file.
	Datastore Datastore
	// Token is the server token of the cluster whose datastore this server
	// shares, or that it joins (--token, DATA_DIR/server/server-token of a
	// server of the cluster): it opens the cluster's keys.
	Token string
	// ClusterInit runs an etcd member in this server and keeps the state
	// there (--cluster-init); JoinServer is another server of a cluster whose
	// etcd this server joins with a member of its own (--server).
	ClusterInit bool
	JoinServer  string
	// EtcdClientPort and EtcdPeerPort are the member's ports (2379, 2380);
	// EtcdAdvertiseIP is where the other members reach it (default: the
	// node address; tests running several servers on one host use loopback).
	EtcdClientPort, EtcdPeerPort int
	EtcdAdvertiseIP              string
	// EtcdSnapshotInterval is how often the member's state is saved under
	// SnapshotDir, keeping the newest EtcdSnapshotRetention (0: never).
	EtcdSnapshotInterval  time.Duration
	EtcdSnapshotRetention int
	// ServerName is this server's name among the servers that share a
	// datastore, its identity in their elections and Leases (default: the
	// node name, else the host's name).
	ServerName string
	// LeaderElection times the election of the server that runs the control
	// loops (upstream's defaults; tests shorten them).
	LeaderElection LeaderElection
}

// Components can be turned off with --disable.
var Components = []string{"dashboard"}

// AdmissionPlugins are the admission plugins that can be turned off with
// --disable-admission-plugins: ServiceAccount, without which pods run as
// no account and get no API credentials (for an API server run without the
// service account controller, as upstream's integration tests do).
var AdmissionPlugins = []string{"ServiceAccount"}

func (c Config) enabled(component string) bool { return !slices.Contains(c.Disable, component) }

// Server is a running control plane.
type Server struct {
	cfg        Config
	API        *apiserver.Server
	Kubeconfig string
	URL        string
	ready      chan struct{}
	loopback   *loopback
	// runNode runs this host's node (RunNode; tests stand in for it).
	runNode func(context.Context, NodeConfig) error
}

// Version is what /version reports: the Kubernetes API level Skiff implements.
var Version = version.Info{
	Major: "1", Minor: "33", GitVersion: "v1.33.0+skiff", GitCommit: "skiff", GitTreeState: "clean",
	GoVersion: "go1.26", Compiler: "gc", Platform: "linux/amd64", BuildDate: "2026-11-26T00:00:00Z",
}

// New validates the configuration.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "/var/lib/skiff"
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = DefaultHTTPSPort
	}
	if cfg.KubeconfigPath == "" {
		cfg.KubeconfigPath = filepath.Join(cfg.DataDir, "kubeconfig.yaml")
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.43.0.0/16"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, p := range cfg.DisableAdmissionPlugins {
		if !slices.Contains(AdmissionPlugins, p) {
			return nil, fmt.Errorf("--disable-admission-plugins %s: no such admission plugin can be disabled (the ones that can: %s)", p, strings.Join(AdmissionPlugins, ", "))
		}
	}
	for _, c := range cfg.Disable {
		if !slices.Contains(Components, c) {
			return nil, fmt.Errorf("--disable %s: no such component (the ones that can be disabled: %s)", c, strings.Join(Components, ", "))
		}
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if _, _, err := net.ParseCIDR(cfg.ClusterCIDR); err != nil {
		return nil, fmt.Errorf("--cluster-cidr %q: %w", cfg.ClusterCIDR, err)
	}
	_, serviceNet, err := net.ParseCIDR(cfg.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("--service-cidr %q: %w", cfg.ServiceCIDR, err)
	}
	cfg.ClusterDomain = strings.TrimSuffix(cfg.ClusterDomain, ".")
	if errs := validation.IsDNS1123Subdomain(cfg.ClusterDomain); len(errs) > 0 {
		return nil, fmt.Errorf("--cluster-domain %q: %s", cfg.ClusterDomain, strings.Join(errs, "; "))
	}
	if cfg.ClusterDNS, err = checkClusterDNS(cfg.ClusterDNS, serviceNet); err != nil {
		return nil, err
	}
	if cfg.NetworkBackend != "" {
		if _, err := podnet.ParseBackend(cfg.NetworkBackend); err != nil {
			return nil, fmt.Errorf("--network-backend: %w", err)
		}
	}
	return &Server{cfg: cfg, Kubeconfig: cfg.KubeconfigPath, ready: make(chan struct{}), runNode: RunNode}, nil
}

// checkClusterDNS validates the kube-dns Service's address, or picks the
// default: an IPv4 address the Service range can allocate (not its network
// or broadcast address, nor the kubernetes Service's).
func checkClusterDNS(ip string, serviceNet *net.IPNet) (string, error) {
	flag := fmt.Sprintf("--cluster-dns %q", ip)
	if ip == "" {
		if serviceNet.IP.To4() == nil {
			// Cluster DNS serves IPv4 Service ranges: an IPv6 one runs
			// without it (pods use the node's resolvers) unless told.
			return "", nil
		}
		ip = nthIPv4(serviceNet, 10).String()
		flag = fmt.Sprintf("--cluster-dns (by default the 10th address of --service-cidr %s, %s)", serviceNet, ip)
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is4() {
		return "", fmt.Errorf("%s: not an IPv4 address", flag)
	}
	if !serviceNet.Contains(net.IP(addr.AsSlice())) {
		return "", fmt.Errorf("%s: not inside --service-cidr %s", flag, serviceNet)
	}
	ones, bits := serviceNet.Mask.Size()
	switch addr.String() {
	case serviceNet.IP.String(), nthIPv4(serviceNet, 1<<(bits-ones)-1).String():
		return "", fmt.Errorf("%s: the network or broadcast address of --service-cidr %s", flag, serviceNet)
	case registry.FirstServiceIP(serviceNet).String():
		return "", fmt.Errorf("%s: the kubernetes Service's address", flag)
	}
	return addr.String(), nil
}

// nthIPv4 is the address off after the first of the IPv4 network n.
func nthIPv4(n *net.IPNet, off uint64) net.IP {
	ip := n.IP.To4()
	v := (uint64(ip[0])<<24 | uint64(ip[1])<<16 | uint64(ip[2])<<8 | uint64(ip[3])) + off
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

// ClusterDNSIP is the kube-dns Service's address, the nameserver pods with
// dnsPolicy ClusterFirst are given; nil when ClusterDNS is unset or invalid
// (New fills it in).
func (c Config) ClusterDNSIP() net.IP { return net.ParseIP(c.ClusterDNS).To4() }

// Ready is closed when the API answers and the bootstrap objects exist.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run starts everything and blocks until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	cfg := s.cfg
	log := cfg.Logger
	serverDir := serverDirIn(cfg.DataDir)
	if err := os.MkdirAll(serverDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w (run as root, or pass --data-dir to a directory you own)", err)
	}
	_, serviceNet, _ := net.ParseCIDR(cfg.ServiceCIDR)
	if !cfg.DisableAgent {
		// Resolved once: the join handler reserves the name the agent registers.
		name, err := nodeName(cfg.NodeName)
		if err != nil {
			return err
		}
		cfg.NodeName = name
	}
	if cfg.ServerName == "" {
		name, err := nodeName(cfg.NodeName)
		if err != nil {
			return err
		}
		cfg.ServerName = name
	}
	identity, err := serverIdentity(serverDir, cfg.ServerName)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.HTTPSPort)))
	if err != nil {
		return fmt.Errorf("listening on port %d: %w (is another server running? choose another with --https-listen-port)", cfg.HTTPSPort, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	var emb *embedded
	if usesEmbeddedEtcd(cfg, serverDir) {
		if len(cfg.Datastore.Endpoints) > 0 {
			return fmt.Errorf("--datastore-endpoint names an external etcd, but this server runs an embedded one (--cluster-init, --server, or a member in %s): use one or the other", etcdDir(serverDir))
		}
		if emb, err = startEmbeddedEtcd(ctx, cfg, serverDir, log); err != nil {
			return err
		}
		defer emb.stop()
		cfg.Storage = emb.store
	}
	store, closeStore, err := openStorage(ctx, &cfg, serverDir, log)
	if err != nil {
		return err
	}
	defer closeStore()
	if cfg.Storage != nil {
		// A datastore other servers may share: they share the cluster's keys.
		if err := shareBootstrap(ctx, store, serverDir, cfg.Token); err != nil {
			return err
		}
	}

	tlsDir := filepath.Join(serverDir, "tls")
	ca, err := pki.EnsureCA(tlsDir)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	hosts, ips := servingNames(cfg.BindAddress, registry.FirstServiceIP(serviceNet))
	certFile, keyFile, err := ca.EnsureServing(tlsDir, "serving-kube-apiserver", hosts, ips)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	adminCert, adminKey, err := ca.EnsureClient(tlsDir, "client-admin", "system:admin", []string{"system:masters"})
	if err != nil {
		return fmt.Errorf("admin certificate: %w", err)
	}
	host := "127.0.0.1"
	if cfg.BindAddress != "" && cfg.BindAddress != "0.0.0.0" && cfg.BindAddress != "::" {
		host = cfg.BindAddress
	}
	s.URL = "https://" + net.JoinHostPort(host, strconv.Itoa(port))
	if err := pki.WriteKubeconfig(cfg.KubeconfigPath, s.URL, ca.CertPEM(), adminCert, adminKey); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	token, err := join.EnsureToken(filepath.Join(serverDir, "token"), ca.CertPEM())
	if err != nil {
		return err
	}
	serverToken, err := join.EnsureToken(filepath.Join(serverDir, "server-token"), ca.CertPEM())
	if err != nil {
		return err
	}

	reg := registry.New(registry.Options{
		ServiceCIDR:                  serviceNet,
		NotReadyTolerationSeconds:    cfg.NotReadyToleration,
		UnreachableTolerationSeconds: cfg.UnreachableToleration,
		ServiceAccountAdmission:      !slices.Contains(cfg.DisableAdmissionPlugins, "ServiceAccount"),
	})
	// The API server's identity towards node agents (logs, exec, port-forward).
	agentClientCert, agentClientKey, err := ca.EnsureClient(tlsDir, "client-apiserver-agent", streamserver.APIServerUser, nil)
	if err != nil {
		return fmt.Errorf("agent client certificate: %w", err)
	}
	agentPair, err := tls.LoadX509KeyPair(agentClientCert, agentClientKey)
	if err != nil {
		return fmt.Errorf("loading agent client certificate: %w", err)
	}
	streams := &lateStreams{}
	tokens := map[string]apiserver.User{}
	images, imagesHandler, err := newRegistry(serverDir, log)
	if err != nil {
		return err
	}
	services := map[string]http.Handler{}
	saKey, err := serviceaccount.LoadOrCreateKey(tlsDir)
	if err != nil {
		return fmt.Errorf("service-account signing key: %w", err)
	}
	saIssuer := "https://kubernetes.default.svc." + cfg.ClusterDomain
	// The tokens controller signs the legacy tokens in Secrets with the same key.
	legacyTokens, err := serviceaccount.NewIssuer(saIssuer, saKey)
	if err != nil {
		return fmt.Errorf("service-account token issuer: %w", err)
	}
	oidc, err := serviceaccount.NewDiscovery(saIssuer, "", []crypto.PublicKey{saKey.Public()})
	if err != nil {
		return fmt.Errorf("service-account issuer discovery: %w", err)
	}
	authorizer := rbac.New()
	guardEscalation(reg, authorizer)
	guardCSRs(reg, authorizer)
	legacyUsed := &legacyTokenLabeler{log: log.With("component", "tokens")}
	api := apiserver.New(apiserver.Config{
		RBAC:                 authorizer,
		LegacyTokenUsed:      legacyUsed.used,
		ServiceAccountKey:    saKey,
		ServiceAccountIssuer: saIssuer,
		ServiceHandlers:      services,
		Tokens:               tokens,
		Streams:              streams,
		Storage:              store,
		SharedStorage:        cfg.Storage != nil,
		Registry:             reg,
		Logger:               log,
		ClientCAs:            ca.CertPool(),
		Version:              Version,
		WatchHistory:         cfg.WatchHistory,
		OpenAPI:              &lazyOpenAPI{reg: reg, version: Version.GitVersion},
		// Like kube-apiserver's --profiling (on by default): behind authentication.
		ExtraHandlers: map[string]http.Handler{"/debug/pprof/": http.HandlerFunc(pprofIndex), "/v2/": imagesHandler,
			serviceaccount.OpenIDConfigPath: oidc, serviceaccount.JWKSPath: oidc},
		// The registry checks who may pull and push itself.
		SelfAuthorizedPrefixes: []string{"/v2/"},
	})
	s.API = api
	if cfg.enabled("dashboard") {
		services[dashboard.Namespace+"/"+dashboard.Name] = dashboard.New(api)
	}

	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("loading serving certificate: %w", err)
	}
	// Node passwords are in the datastore, where servers before this one
	// kept them in files.
	if err := join.ImportPasswords(ctx, store, filepath.Join(serverDir, "node-passwords")); err != nil {
		return err
	}
	joins := &join.Handler{CA: ca, Token: token, ServerToken: serverToken, ClusterCIDR: cfg.ClusterCIDR,
		Passwords:  store,
		NodeExists: func(name string) bool { return api.Exists(reg.Lookup("v1", "nodes"), "", name) },
		Reserved:   ownNodes(cfg),
		Logger:     log.With("component", "join"),
	}
	if !cfg.DisableAgent {
		if err := bindOwnNode(ctx, joins, cfg); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler: withJoin(joins, registryFront(api)),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    ca.CertPool(),
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}

	lb, err := newLoopback(api, log.With("component", "loopback"))
	if err != nil {
		return err
	}
	tokens[lb.token] = apiserver.User{Name: "system:apiserver", Groups: []string{"system:masters"}}
	s.loopback = lb
	loopClient, err := kubernetes.NewForConfig(lb.config())
	if err != nil {
		return err
	}
	legacyUsed.client = loopClient
	if streams.p, err = proxy.New(proxy.Config{
		Getter: proxy.ClientGetter(loopClient),
		TLS:    &tls.Config{Certificates: []tls.Certificate{agentPair}, RootCAs: ca.CertPool(), MinVersion: tls.VersionTLS12},
		Logger: log.With("component", "streams"),
	}); err != nil {
		return fmt.Errorf("stream proxy: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 5)
	// The API (its cache) stops after the loops and the agent: their last
	// writes (releasing leases, marking the node) need reads that follow
	// storage.
	apiCtx, stopAPI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAPI()
	go func() { errc <- api.Run(apiCtx) }()
	if emb != nil {
		joins.AddServer = emb.addServer(serverDir)
		go func() {
			if err, ok := <-emb.member.Err(); ok && err != nil {
				errc <- fmt.Errorf("this server's etcd member: %w", err)
			}
		}()
	}
	go func() { _ = joins.Run(ctx) }()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serving HTTPS: %w", err)
		}
	}()
	select {
	case <-api.Ready():
	case err := <-errc:
		return err
	case <-ctx.Done():
		return nil
	}
	var rootCA []byte
	if !cfg.DisableControllers {
		rootCA = ca.CertPEM()
	}
	dns := &dnsService{ip: cfg.ClusterDNS, log: log}
	ensureBootstrap := func(ctx context.Context) error {
		if err := bootstrap(ctx, api, reg, serviceNet, net.ParseIP(joinHost(cfg)), port, rootCA, dns); err != nil {
			return err
		}
		return ensureDashboardService(ctx, api, reg, cfg.enabled("dashboard"))
	}
	if err := ensureBootstrap(ctx); err != nil {
		return fmt.Errorf("creating bootstrap objects: %w", err)
	}
	go reconcileBootstrap(ctx, 2*time.Second, ensureBootstrap, log)
	// Authorization follows the roles and bindings from here on; the server
	// is ready once it knows them all, the default policy among them.
	rbacInformers := informers.NewSharedInformerFactory(loopClient, 0)
	if err := feedRBAC(ctx, rbacInformers, authorizer); err != nil {
		return err
	}
	if err := ensureRBACPolicy(ctx, loopClient, log); err != nil {
		return fmt.Errorf("the default RBAC policy: %w", err)
	}
	if err := waitForPolicy(ctx, loopClient, rbacInformers); err != nil {
		return err
	}
	importAirGapImages(ctx, images, cfg.DataDir, log)
	// The loops and the agent are waited for when the server stops: the agent
	// stops the containerd it supervises, which must not outlive the process.
	var components sync.WaitGroup
	defer waitStopped(&components, componentsStopTimeout, log)
	defer cancel()
	if emb != nil {
		components.Go(func() { emb.removeDeletedServers(ctx, loopClient, cfg.ServerName, log) })
	}
	if host := net.ParseIP(joinHost(cfg)); host != nil {
		leases := newServerLeases(loopClient, identity, cfg.ServerName, host, port, log)
		components.Go(func() { leases.run(ctx) })
	}
	if !cfg.DisableControllers {
		components.Go(func() {
			err := lead(ctx, loopClient, ControllersLease, identity, cfg.LeaderElection, log, func(ctx context.Context) error {
				return runControllers(ctx, cfg, lb.config(), ca, legacyTokens, log)
			})
			if err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("control loops: %w", err)
			}
		})
	}
	if !cfg.DisableAgent {
		mirror, err := nodeMirror(ca, tlsDir, cfg.NodeName, s.URL)
		if err != nil {
			return err
		}
		components.Go(func() {
			if err := runAgent(ctx, cfg, ca, tlsDir, lb.config(), mirror, s.runNode, log); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("node agent: %w", err)
			}
		})
	}
	close(s.ready)
	fmt.Fprintf(cfg.Out, "Skiff is ready: the API answers at %s; use it with: export KUBECONFIG=%s\n", s.URL, cfg.KubeconfigPath)
	fmt.Fprintf(cfg.Out, "Join worker nodes with: skiff agent --server https://%s --token $(cat %s)\n",
		net.JoinHostPort(joinHost(cfg), strconv.Itoa(port)), filepath.Join(serverDir, "token"))
	if emb != nil {
		fmt.Fprintf(cfg.Out, "Add servers with: skiff server --server https://%s --token $(cat %s)\n",
			net.JoinHostPort(joinHost(cfg), strconv.Itoa(port)), filepath.Join(serverDir, "server-token"))
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	waitStopped(&components, componentsStopTimeout, log)
	stopAPI()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdownCtx)
	lb.shutdown()
	return runErr
}

// componentsStopTimeout bounds how long a stopping server waits for its loops
// and its agent, whose containerd gets a grace period to stop.
const componentsStopTimeout = 30 * time.Second

// waitStopped waits for wg, at most timeout.
func waitStopped(wg *sync.WaitGroup, timeout time.Duration, log *slog.Logger) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		log.Warn("stopping: the control loops or the node agent did not stop in time", "waited", timeout)
	}
}

// servingNames are the serving certificate's SANs: every local address when
// listening on all of them, the loopback names, the in-cluster names and the first
// service IP.
func servingNames(bind string, firstServiceIP net.IP) ([]string, []net.IP) {
	hosts := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), firstServiceIP}
	if bind != "" && bind != "0.0.0.0" && bind != "::" {
		if ip := net.ParseIP(bind); ip != nil {
			ips = append(ips, ip)
		} else {
			hosts = append(hosts, bind)
		}
	} else if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP)
			}
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	return hosts, ips
}

// Datastore is an external etcd 3.5+ cluster: its client URLs, the CA that
// signed their certificates and this server's client certificate (optional
// for a plaintext etcd), and the prefix Skiff's keys live under.
type Datastore struct {
	Endpoints                 []string
	CAFile, CertFile, KeyFile string
	Prefix                    string
}

// datastoreCompaction is how often the history of a shared datastore is
// compacted, to the revision it had at the last round, as upstream's API server
// compacts etcd every five minutes.
const datastoreCompaction = 5 * time.Minute

// openStorage opens the datastore: cfg.Storage when set, the etcd cluster of
// cfg.Datastore, else the bolt file under serverDir. It fills in cfg.Storage
// for a datastore other servers may share.
func openStorage(ctx context.Context, cfg *Config, serverDir string, log *slog.Logger) (storage.Backend, func(), error) {
	if cfg.Storage != nil {
		return cfg.Storage, func() {}, nil
	}
	if d := cfg.Datastore; len(d.Endpoints) > 0 {
		tlsConfig, err := datastoreTLS(d)
		if err != nil {
			return nil, nil, err
		}
		log.Info("connecting to the datastore", "endpoints", d.Endpoints)
		b, err := etcd.Open(ctx, etcd.Config{Endpoints: d.Endpoints, TLS: tlsConfig, Prefix: d.Prefix, DialTimeout: 20 * time.Second})
		if err != nil {
			return nil, nil, fmt.Errorf("the datastore: %w (check --datastore-endpoint and its TLS files)", err)
		}
		cctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); compactEvery(cctx, b, datastoreCompaction, log) }()
		cfg.Storage = b
		return b, func() { stop(); <-done; b.Close() }, nil
	}
	dbDir := filepath.Join(serverDir, "db")
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, nil, err
	}
	// Storage's history is read only to refill the watch cache's after a
	// restart, which holds at most DefaultWatchHistory events: older
	// revisions are compacted away, so that a burst of writes does not
	// grow the file with history no client can ask for.
	b, err := bolt.Open(filepath.Join(dbDir, "state.db"), bolt.WithAutoCompact(5*time.Minute, apiserver.DefaultWatchHistory), bolt.WithLogger(log))
	if err != nil {
		return nil, nil, fmt.Errorf("opening storage: %w", err)
	}
	return b, func() { b.Close() }, nil
}

// advertiseAddress is the address the kubernetes Service's endpoints name: the
// bind address when it is a routable one, else the host's first routable address.
func advertiseAddress(bind string) net.IP {
	if ip := net.ParseIP(bind); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		return ip
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	return nil
}

// withJoin serves the join endpoints, which need no credentials, in front of
// the authenticated API.
func withJoin(j *join.Handler, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if join.Owns(r.URL.Path) {
			j.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// joinHost is the address workers (and the kubernetes Service's endpoints)
// reach this server at: --node-ip, else the bind address or first routable one.
func joinHost(cfg Config) string {
	if cfg.NodeIP != "" {
		return cfg.NodeIP
	}
	if ip := advertiseAddress(cfg.BindAddress); ip != nil {
		return ip.String()
	}
	return "SERVER"
}

// LoopbackConfig is a client configuration for components running in this
// process (controllers, hollow nodes). Valid once Ready is closed.
func (s *Server) LoopbackConfig() *rest.Config { return s.loopback.config() }

// pprofIndex serves the Go profiles under /debug/pprof/.
func pprofIndex(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	default:
		pprof.Index(w, r)
	}
}

// lateStreams lets the API server be built before the stream proxy, whose pod
// lookups go through the API server itself.
type lateStreams struct{ p *proxy.Proxy }

func (l *lateStreams) ServePodStream(w http.ResponseWriter, r *http.Request, namespace, pod, sub string) {
	l.p.ServePodStream(w, r, namespace, pod, sub)
}

func (l *lateStreams) ServeNodeProxy(w http.ResponseWriter, r *http.Request, node, path string) {
	l.p.ServeNodeProxy(w, r, node, path)
}
