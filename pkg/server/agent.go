package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/podnet"
	"github.com/skiffhq/skiff/pkg/proxy"
	streamserver "github.com/skiffhq/skiff/pkg/streaming/server"
)

// agentPort is where the node agent serves logs, exec, attach and port-forward
// to the API server (the kubelet's port; published in the Node's daemonEndpoints).
const agentPort = 10250

// NodeConfig is one node on this host: what `skiff server` runs for its own
// node and what `skiff agent` runs after joining.
type NodeConfig struct {
	DataDir, NodeName, NodeIP, ClusterCIDR, ContainerRuntimeEndpoint string
	// Client reaches the API server as this node.
	Client *rest.Config
	// ServingCert and ServingKey are the agent port's certificate; ClientCAs
	// verify who calls it (only the API server may).
	ServingCert, ServingKey string
	ClientCAs               *x509.CertPool
	// NetworkBackend carries pod traffic between nodes: host-gw or vxlan.
	NetworkBackend string
	// ClusterDNS is the kube-dns Service's address, the nameserver of pods
	// with dnsPolicy ClusterFirst; empty: read from that Service.
	ClusterDNS string
	// ClusterDomain is the cluster's DNS domain (cluster.local).
	ClusterDomain string
	// ResolvConf is the node's resolver configuration: pods with dnsPolicy
	// Default get it, and the cluster DNS forwards outside names to its
	// nameservers. Empty: /etc/resolv.conf (systemd-resolved's file where
	// there is one).
	ResolvConf string
	// Mirror is the cluster registry containerd pulls through first. With
	// one, DATA_DIR/agent/images is the registry's business, not the node's.
	Mirror agent.Mirror
	// MirrorFallbacks, when set, brings the other servers' registries as
	// they come and go, to try when the mirror does not answer.
	MirrorFallbacks <-chan []string
	Logger          *slog.Logger
}

// runAgent runs this host's node for `skiff server`: the serving certificate
// comes straight from the cluster CA.
func runAgent(ctx context.Context, cfg Config, ca *pki.CA, tlsDir string, rc *rest.Config, mirror agent.Mirror,
	runNode func(context.Context, NodeConfig) error, log *slog.Logger) error {
	hosts := []string{"localhost"}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	if ip := net.ParseIP(cfg.NodeIP); ip != nil {
		ips = append(ips, ip)
	} else if ip := advertiseAddress(cfg.BindAddress); ip != nil {
		ips = append(ips, ip)
	}
	certFile, keyFile, err := ca.EnsureServing(tlsDir, "serving-agent", hosts, ips)
	if err != nil {
		return fmt.Errorf("agent serving certificate: %w", err)
	}
	return runNode(ctx, NodeConfig{
		DataDir: cfg.DataDir, NodeName: cfg.NodeName, NodeIP: cfg.NodeIP, ClusterCIDR: cfg.ClusterCIDR,
		ContainerRuntimeEndpoint: cfg.ContainerRuntimeEndpoint, NetworkBackend: cfg.NetworkBackend,
		Client: rc, ServingCert: certFile, ServingKey: keyFile, ClientCAs: ca.CertPool(), Logger: log,
		Mirror: mirror, ClusterDNS: cfg.ClusterDNS, ClusterDomain: cfg.ClusterDomain, ResolvConf: cfg.ResolvConf,
	})
}

// nodeName is a node's name: the one given, else the lower-cased hostname.
func nodeName(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("node name: %w (pass --node-name)", err)
	}
	return strings.ToLower(h), nil
}

// nodeIdentity fills in a node's defaults: the lower-cased hostname, and the
// host's first routable address.
func nodeIdentity(name, ip string) (string, string, error) {
	name, err := nodeName(name)
	if err != nil {
		return "", "", err
	}
	if ip == "" {
		a := advertiseAddress("")
		if a == nil {
			return "", "", errors.New("this host has no routable address to be reached at: pass --node-ip")
		}
		ip = a.String()
	} else if net.ParseIP(ip) == nil {
		return "", "", fmt.Errorf("--node-ip %q is not an IP address", ip)
	}
	return name, ip, nil
}

// RunNode runs a node until ctx ends: the agent (containerd, pods), the agent
// TLS endpoint for the streaming subresources, and the service proxy.
func RunNode(ctx context.Context, nc NodeConfig) error {
	log := nc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client, err := kubernetes.NewForConfig(nc.Client)
	if err != nil {
		return err
	}
	if nc.NodeName, nc.NodeIP, err = nodeIdentity(nc.NodeName, nc.NodeIP); err != nil {
		return err
	}
	backend := podnet.HostGW
	if nc.NetworkBackend != "" {
		backend, err = podnet.ParseBackend(nc.NetworkBackend)
	}
	if err != nil {
		return fmt.Errorf("--network-backend: %w", err)
	}
	_, clusterNet, err := net.ParseCIDR(nc.ClusterCIDR)
	if err != nil {
		return fmt.Errorf("cluster CIDR %q: %w", nc.ClusterCIDR, err)
	}
	pods, err := podnet.New(client, informers.NewSharedInformerFactory(client, 0), podnet.Options{
		NodeName: nc.NodeName, NodeIP: net.ParseIP(nc.NodeIP), ClusterCIDR: clusterNet, Backend: backend,
		Logger: log.With("component", "podnet"),
	})
	if err != nil {
		return fmt.Errorf("pod network: %w", err)
	}
	// Tarballs dropped in DATA_DIR/agent/images are imported at start (the
	// air-gap convention k3s users know).
	var tarballs []string
	if nc.Mirror.URL == "" {
		tarballs, _ = filepath.Glob(filepath.Join(nc.DataDir, "agent", "images", "*.tar"))
	}
	if nc.ClusterDNS == "" {
		nc.ClusterDNS = clusterDNSAddress(ctx, client, log)
	}
	var clusterDNS []string
	if nc.ClusterDNS != "" {
		clusterDNS = []string{nc.ClusterDNS}
	}
	a, err := agent.New(client, agent.Options{
		ClusterDNS:               clusterDNS,
		ClusterDomain:            nc.ClusterDomain,
		ResolvConf:               nc.ResolvConf,
		ImportImages:             tarballs,
		Mirror:                   nc.Mirror,
		NodeName:                 nc.NodeName,
		NodeIP:                   nc.NodeIP,
		DataDir:                  nc.DataDir,
		ClusterCIDR:              nc.ClusterCIDR,
		ContainerRuntimeEndpoint: nc.ContainerRuntimeEndpoint,
		MTU:                      pods.MTU(),
		Logger:                   log.With("component", "agent"),
	})
	if err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(nc.ServingCert, nc.ServingKey)
	if err != nil {
		return fmt.Errorf("agent serving certificate: %w", err)
	}
	streams, err := streamserver.New(streamserver.Config{Runtime: a, LogDir: a.PodLogDir(), Logger: log.With("component", "agent-streams")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", agentPort))
	if err != nil {
		return fmt.Errorf("agent port %d: %w (is a kubelet or another skiff agent running?)", agentPort, err)
	}
	if nc.MirrorFallbacks != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case urls := <-nc.MirrorFallbacks:
					if err := a.SetMirrorFallbacks(urls); err != nil {
						log.Warn("updating the registries pulled from", "err", err)
					}
				}
			}
		}()
	}
	go func() {
		if err := streams.Serve(ctx, ln, streamserver.TLSConfig(cert, nc.ClientCAs)); err != nil && ctx.Err() == nil {
			log.Error("agent stream server stopped", "err", err)
		}
	}()
	go func() {
		if err := pods.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("pod network stopped", "err", err)
		}
	}()
	// The proxy and the cluster DNS watch the same Services and
	// EndpointSlices: one cache for both.
	services := informers.NewSharedInformerFactory(client, 0)
	go func() {
		if err := runServiceProxy(ctx, nc, client, a, services, log.With("component", "proxy")); err != nil && ctx.Err() == nil {
			log.Error("service proxy stopped", "err", err)
		}
	}()
	go func() {
		if err := runClusterDNS(ctx, nc, client, a, services, log.With("component", "dns")); err != nil && ctx.Err() == nil {
			log.Error("cluster DNS stopped", "err", err)
		}
	}()
	return a.Run(ctx)
}

// runServiceProxy programs this node's nftables from Services and
// EndpointSlices once the agent knows the node's address.
func runServiceProxy(ctx context.Context, nc NodeConfig, client kubernetes.Interface, a *agent.Agent, factory informers.SharedInformerFactory, log *slog.Logger) error {
	select {
	case <-a.Ready():
	case <-ctx.Done():
		return nil
	}
	if err := prepareNodeNetwork(log); err != nil {
		return err
	}
	_, clusterNet, _ := net.ParseCIDR(nc.ClusterCIDR)
	var nodeIPs []net.IP
	if ip := net.ParseIP(a.NodeIP()); ip != nil {
		nodeIPs = append(nodeIPs, ip)
	}
	p, err := proxy.New(client, factory, proxy.Options{
		NodeName: a.NodeName(), NodeIPs: nodeIPs, ClusterCIDR: clusterNet, Logger: log,
	})
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
