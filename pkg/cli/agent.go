package cli

import (
	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/pkg/cleanup"
	"github.com/skiffhq/skiff/pkg/server"
)

func newAgentCommand() *cobra.Command {
	var cfg server.WorkerConfig
	var verbose bool
	cmd := &cobra.Command{
		Use:   "agent --server https://HOST:6443 --token TOKEN",
		Short: "Join this host to a Skiff cluster as a worker node",
		Long: "Join this host to a Skiff cluster as a worker node. The token is in the server's\n" +
			"DATA_DIR/server/token; it carries a hash of the cluster CA, so the agent checks\n" +
			"it is talking to the right server before it sends the secret.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = newLogger(verbose)
			cfg.Out = cmd.OutOrStdout()
			return runNode(cmd.Context(), cfg.DataDir, cmd.OutOrStdout(), func() error {
				return server.RunWorker(cmd.Context(), cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ServerURL, "server", "", "the Skiff server's URL, https://HOST:6443")
	f.StringVar(&cfg.Token, "token", "", "the join token from the server's DATA_DIR/server/token")
	f.StringVar(&cfg.TokenFile, "token-file", "", "read the join token from this file instead of --token")
	f.StringVar(&cfg.DataDir, "data-dir", cleanup.DefaultDataDir, "directory holding all of this node's state")
	f.StringVar(&cfg.NodeName, "node-name", "", "this node's name (default: the hostname)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "this node's address (default: its first routable address)")
	f.StringVar(&cfg.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "use this CRI socket instead of starting containerd")
	f.BoolVar(&cfg.Drain, "drain", false, "on a clean shutdown, cordon this node and evict its pods first (undone at the next start)")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 0, "how long --drain waits for the pods to go (default 2m)")
	f.StringVar(&cfg.NetworkBackend, "network-backend", "host-gw", "how pod traffic crosses between nodes: host-gw (nodes share a link) or vxlan")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", "", "the nameserver of pods with dnsPolicy ClusterFirst (default: the kube-dns Service's address)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain (the server's --cluster-domain)")
	f.StringVar(&cfg.ResolvConf, "resolv-conf", "", "the node's resolver configuration: for pods with dnsPolicy Default, and where cluster DNS forwards other names (default /etc/resolv.conf)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail")
	return cmd
}
