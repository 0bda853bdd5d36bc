package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/join"
	"github.com/skiffhq/skiff/pkg/loadbalancer"
	"github.com/skiffhq/skiff/pkg/podnet"
)

// WorkerConfig is everything `skiff agent` takes from its flags.
type WorkerConfig struct {
	ServerURL, Token, TokenFile                         string
	DataDir, NodeName, NodeIP, ContainerRuntimeEndpoint string
	NetworkBackend                                      string
	// ClusterDNS, ClusterDomain and ResolvConf: as in NodeConfig.
	ClusterDNS, ClusterDomain, ResolvConf string
	// Drain, on a clean shutdown, cordons the node and evicts its pods first.
	Drain bool
	// DrainTimeout bounds that (default 2 minutes).
	DrainTimeout time.Duration
	Logger       *slog.Logger
	Out          io.Writer // progress and the joined line
}

// RunWorker joins this host to the cluster at ServerURL and runs its node
// until ctx ends. A token that is not the server's is an error at once, with
// nothing written; a server that does not answer yet is waited for.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	if cfg.TokenFile != "" {
		if cfg.Token != "" {
			return errors.New("give --token or --token-file, not both")
		}
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		cfg.Token = string(b)
	}
	if cfg.ServerURL == "" || cfg.Token == "" {
		return errors.New("--server and --token (or --token-file) are required (the token is in the server's DATA_DIR/server/token)")
	}
	token, err := join.ParseToken(cfg.Token)
	if err != nil {
		return err
	}
	if cfg.NetworkBackend != "" {
		if _, err := podnet.ParseBackend(cfg.NetworkBackend); err != nil {
			return fmt.Errorf("--network-backend: %w", err)
		}
	}
	if cfg.ClusterDNS != "" {
		if ip, err := netip.ParseAddr(cfg.ClusterDNS); err != nil || !ip.Is4() {
			return fmt.Errorf("--cluster-dns %q is not an IPv4 address", cfg.ClusterDNS)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "/var/lib/skiff"
	}
	if cfg.NodeName, cfg.NodeIP, err = nodeIdentity(cfg.NodeName, cfg.NodeIP); err != nil {
		return err
	}

	// The node password ties the node name to this host; it is kept only once
	// a join has succeeded, so a refused join writes nothing.
	passwordFile := filepath.Join(cfg.DataDir, "agent", "node-password")
	password, err := join.LoadOrMakePassword(passwordFile)
	if err != nil {
		return err
	}
	creds, err := joinCluster(ctx, cfg.ServerURL, token, join.Request{NodeName: cfg.NodeName, NodeIP: cfg.NodeIP, NodePassword: password}, cfg.Out)
	if err != nil {
		return err
	}
	files, err := creds.Write(filepath.Join(cfg.DataDir, "agent", "pki"), cfg.ServerURL)
	if err != nil {
		return fmt.Errorf("storing the node credentials: %w", err)
	}
	if err := join.SavePassword(passwordFile, password); err != nil {
		return fmt.Errorf("storing the node password: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", files.Kubeconfig)
	if err != nil {
		return err
	}
	// The node reaches the API through a balancer on loopback over every
	// live server, so that it goes on when the one it joined dies.
	joined, err := url.Parse(cfg.ServerURL)
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	lb, err := loadbalancer.New("127.0.0.1:0", []string{joined.Host}, loadbalancer.Options{Logger: cfg.Logger.With("component", "loadbalancer")})
	if err != nil {
		return fmt.Errorf("the API load balancer: %w", err)
	}
	// It outlives ctx: a drain on the way out still talks to the API.
	lbCtx, stopLB := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLB()
	go func() { _ = lb.Run(lbCtx) }()
	// Every server's certificate names APIServerName, and no node's may:
	// an address on loopback proves nothing (nodes' serving certificates
	// name 127.0.0.1 too).
	rc.Host = "https://" + lb.Addr()
	rc.TLSClientConfig.ServerName = join.APIServerName
	rc.QPS, rc.Burst = 50, 100
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(creds.CA)
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	if err := uncordonIfDrained(ctx, client, cfg.NodeName); err != nil {
		cfg.Logger.Warn("could not uncordon the node after the last drain", "err", err)
	}
	fmt.Fprintf(cfg.Out, "Joined %s as node %q (%s); its credentials are in %s\n", cfg.ServerURL, cfg.NodeName, cfg.NodeIP, filepath.Dir(files.Kubeconfig))

	// The node runs on until the drain is over: its agent stops the evicted pods.
	nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNode()
	fallbacks := make(chan []string, 1)
	go followServers(nodeCtx, client, lb, func(servers []string) { offerFallbacks(fallbacks, joined.Host, servers) }, cfg.Logger)
	go func() {
		<-ctx.Done()
		if cfg.Drain {
			timeout := cfg.DrainTimeout
			if timeout == 0 {
				timeout = 2 * time.Minute
			}
			dctx, cancel := context.WithTimeout(context.Background(), timeout)
			if err := drainNode(dctx, client, cfg.NodeName, cfg.Out); err != nil {
				fmt.Fprintf(cfg.Out, "Drain incomplete: %v\n", err)
			}
			cancel()
		}
		stopNode()
	}()
	return RunNode(nodeCtx, NodeConfig{
		DataDir: cfg.DataDir, NodeName: cfg.NodeName, NodeIP: cfg.NodeIP, ClusterCIDR: creds.ClusterCIDR,
		ContainerRuntimeEndpoint: cfg.ContainerRuntimeEndpoint, NetworkBackend: cfg.NetworkBackend,
		ClusterDNS: cfg.ClusterDNS, ClusterDomain: cfg.ClusterDomain, ResolvConf: cfg.ResolvConf,
		Client: rc, ServingCert: files.ServingCert, ServingKey: files.ServingKey, ClientCAs: pool,
		// Images come from the cluster registry first, with this node's
		// identity: from the server joined, whose certificate names its
		// address, as containerd cannot check another name (through the
		// balancer a node's certificate would do); then from the other
		// servers' registries, at their own addresses; then from the
		// images' own registries.
		Mirror:          agent.Mirror{URL: cfg.ServerURL, CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey},
		MirrorFallbacks: fallbacks,
		Logger:          cfg.Logger,
	})
}

// joinCluster asks the server for this node's credentials until it gives
// them: a server that does not answer yet is waited for, one that backs this
// address off is asked again when it said to. A refusal is final.
func joinCluster(ctx context.Context, serverURL string, token join.Token, req join.Request, out io.Writer) (*join.Credentials, error) {
	var creds *join.Credentials
	err := retryJoin(ctx, serverURL, func(msg string) { fmt.Fprintln(out, msg) }, func() (err error) {
		creds, err = join.Join(ctx, serverURL, token, req)
		return err
	})
	return creds, err
}

// retryJoin runs attempt, a join through the server at serverURL, until it
// succeeds or is refused for good (a CA that is not the token's, a secret or
// a request refused), saying now and then what it waits for.
func retryJoin(ctx context.Context, serverURL string, say func(string), attempt func() error) error {
	for n := 0; ; n++ {
		err := attempt()
		if err == nil {
			return nil
		}
		if errors.Is(err, join.ErrCAMismatch) || errors.Is(err, join.ErrRefused) || errors.Is(err, join.ErrRejected) || ctx.Err() != nil {
			return err
		}
		wait := 2 * time.Second
		if errors.Is(err, join.ErrThrottled) {
			wait = join.RetryAfter(err)
			say(fmt.Sprintf("The server at %s is backing off joins from this address after failed ones; retrying in %s", serverURL, wait))
		} else if n%5 == 0 {
			say(fmt.Sprintf("Waiting for the server at %s: %v", serverURL, err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// offerFallbacks hands the agent the registries of the servers but the one
// joined (whose address is the mirror's), as URLs each server's certificate
// names, replacing any list not taken yet.
func offerFallbacks(ch chan []string, joined string, servers []string) {
	var urls []string
	for _, s := range servers {
		if s != joined {
			urls = append(urls, "https://"+s)
		}
	}
	select {
	case <-ch:
	default:
	}
	ch <- urls
}

// followServers feeds the balancer, and changed, the live servers: the
// kubernetes Service's EndpointSlice, which the servers keep to those whose
// lease is live.
func followServers(ctx context.Context, client kubernetes.Interface, lb *loadbalancer.LoadBalancer, changed func([]string), log *slog.Logger) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("default"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = discoveryv1.LabelServiceName + "=kubernetes" }))
	update := func(obj any) {
		slice, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return
		}
		var servers []string
		for _, p := range slice.Ports {
			if p.Port == nil {
				continue
			}
			for _, e := range slice.Endpoints {
				if e.Conditions.Ready != nil && !*e.Conditions.Ready {
					continue
				}
				for _, a := range e.Addresses {
					servers = append(servers, net.JoinHostPort(a, strconv.Itoa(int(*p.Port))))
				}
			}
		}
		if len(servers) > 0 {
			lb.SetServers(servers)
			changed(servers)
		}
	}
	_, _ = factory.Discovery().V1().EndpointSlices().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
}
