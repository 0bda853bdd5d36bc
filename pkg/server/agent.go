package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiffhq/skiff/pkg/agent"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/proxy"
	streamserver "github.com/skiffhq/skiff/pkg/streaming/server"
)

// agentPort is where the node agent serves logs, exec, attach and port-forward
// to the API server (the kubelet's port; published in the Node's daemonEndpoints).
const agentPort = 10250

// runAgent runs the node agent on this host: containerd, pods, and the agent's
// TLS endpoint for the streaming subresources, which admits only the API server.
func runAgent(ctx context.Context, cfg Config, ca *pki.CA, tlsDir string, rc *rest.Config, log *slog.Logger) error {
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	// Tarballs dropped in DATA_DIR/agent/images are imported at start (the
	// air-gap convention k3s users know).
	tarballs, _ := filepath.Glob(filepath.Join(cfg.DataDir, "agent", "images", "*.tar"))
	a, err := agent.New(client, agent.Options{
		ImportImages:             tarballs,
		NodeName:                 cfg.NodeName,
		NodeIP:                   cfg.NodeIP,
		DataDir:                  cfg.DataDir,
		ClusterCIDR:              cfg.ClusterCIDR,
		ContainerRuntimeEndpoint: cfg.ContainerRuntimeEndpoint,
		Logger:                   log.With("component", "agent"),
	})
	if err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
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
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	streams, err := streamserver.New(streamserver.Config{Runtime: a, LogDir: a.PodLogDir(), Logger: log.With("component", "agent-streams")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", agentPort))
	if err != nil {
		return fmt.Errorf("agent port %d: %w (is a kubelet or another skiff agent running?)", agentPort, err)
	}
	go func() {
		if err := streams.Serve(ctx, ln, streamserver.TLSConfig(cert, ca.CertPool())); err != nil && ctx.Err() == nil {
			log.Error("agent stream server stopped", "err", err)
		}
	}()
	go func() {
		if err := runServiceProxy(ctx, cfg, client, a, log.With("component", "proxy")); err != nil && ctx.Err() == nil {
			log.Error("service proxy stopped", "err", err)
		}
	}()
	return a.Run(ctx)
}

// runServiceProxy programs this node's nftables from Services and
// EndpointSlices once the agent knows the node's address.
func runServiceProxy(ctx context.Context, cfg Config, client kubernetes.Interface, a *agent.Agent, log *slog.Logger) error {
	select {
	case <-a.Ready():
	case <-ctx.Done():
		return nil
	}
	if err := prepareNodeNetwork(log); err != nil {
		return err
	}
	_, clusterNet, _ := net.ParseCIDR(cfg.ClusterCIDR)
	var nodeIPs []net.IP
	if ip := net.ParseIP(a.NodeIP()); ip != nil {
		nodeIPs = append(nodeIPs, ip)
	}
	p, err := proxy.New(client, informers.NewSharedInformerFactory(client, 0), proxy.Options{
		NodeIPs: nodeIPs, ClusterCIDR: clusterNet, Logger: log,
	})
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
