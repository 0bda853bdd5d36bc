package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/pkg/cleanup"
	"github.com/skiffhq/skiff/pkg/server"
)

func newServerCommand() *cobra.Command {
	var cfg server.Config
	var verbose bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Skiff control plane (API server, storage, controllers) and, unless --disable-agent, a node on this host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = newLogger(verbose)
			cfg.Out = cmd.OutOrStdout()
			s, err := server.New(cfg)
			if err != nil {
				return err
			}
			return runNode(cmd.Context(), cfg.DataDir, cmd.OutOrStdout(), func() error {
				if cfg.KubeconfigPath != "" {
					// For `skiff uninstall`; DATA_DIR/kubeconfig.yaml goes with the directory.
					_ = cleanup.RecordKubeconfig(cfg.DataDir, cfg.KubeconfigPath)
				}
				return s.Run(cmd.Context())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cleanup.DefaultDataDir, "directory holding all of this server's state")
	f.StringVar(&cfg.BindAddress, "bind-address", "", "address to listen on (default: every address)")
	f.IntVar(&cfg.HTTPSPort, "https-listen-port", 6443, "HTTPS port of the API server")
	f.StringVar(&cfg.KubeconfigPath, "write-kubeconfig", "", "where to write the admin kubeconfig (default DATA_DIR/kubeconfig.yaml)")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod network range")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "Service ClusterIP range")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain (Services are NAME.NAMESPACE.svc.DOMAIN)")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", "", "ClusterIP of the kube-dns Service, the nameserver pods use (default: the 10th address of --service-cidr)")
	f.StringVar(&cfg.ResolvConf, "resolv-conf", "", "the node's resolver configuration: for pods with dnsPolicy Default, and where cluster DNS forwards other names (default /etc/resolv.conf)")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "run the control plane only, no node on this host")
	f.Int64Var(&cfg.NotReadyToleration, "default-not-ready-toleration-seconds", 300, "tolerationSeconds of the not-ready toleration every pod gets")
	f.Int64Var(&cfg.UnreachableToleration, "default-unreachable-toleration-seconds", 300, "tolerationSeconds of the unreachable toleration every pod gets")
	f.StringVar(&cfg.LBPool, "lb-pool", "", "CIDR to give each LoadBalancer Service a dedicated IP from (default: the nodes' IPs)")
	f.DurationVar(&cfg.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "how long a node may be silent before it is marked NotReady")
	f.IntVar(&cfg.HollowNodes, "hollow-nodes", 0, "start this many in-memory nodes (hollow-1 ... hollow-N) for testing and scale")
	f.StringVar(&cfg.NodeName, "node-name", "", "this host's node name (default: the hostname)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "this host's node address (default: its first routable address)")
	f.StringVar(&cfg.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "use this CRI socket instead of starting containerd")
	f.BoolVar(&cfg.DisableControllers, "disable-controllers", false, "run the API server without the control loops and scheduler (like kube-apiserver alone)")
	f.StringVar(&cfg.NetworkBackend, "network-backend", "host-gw", "how pod traffic crosses between nodes: host-gw (nodes share a link) or vxlan")
	f.StringSliceVar(&cfg.Disable, "disable", nil, "packaged components not to run ("+strings.Join(server.Components, ", ")+"); repeat or separate with commas")
	f.StringSliceVar(&cfg.DisableAdmissionPlugins, "disable-admission-plugins", nil, "admission plugins not to run ("+strings.Join(server.AdmissionPlugins, ", ")+")")
	f.StringSliceVar(&cfg.Datastore.Endpoints, "datastore-endpoint", nil, "keep the cluster's state in this etcd 3.5+ cluster (its client URLs, comma separated) instead of the embedded database; servers sharing it form one cluster")
	f.StringVar(&cfg.Datastore.CAFile, "datastore-cafile", "", "CA certificate that signed the datastore's certificates")
	f.StringVar(&cfg.Datastore.CertFile, "datastore-certfile", "", "client certificate for the datastore")
	f.StringVar(&cfg.Datastore.KeyFile, "datastore-keyfile", "", "client key for the datastore")
	f.StringVar(&cfg.Datastore.Prefix, "datastore-prefix", "/skiff", "the key prefix of this cluster's state in the datastore (clusters sharing an etcd need their own)")
	f.BoolVar(&cfg.ClusterInit, "cluster-init", false, "keep the cluster's state in an etcd member run by this server, which other servers join with --server (a data dir of the embedded database moves its state into etcd)")
	f.StringVar(&cfg.JoinServer, "server", "", "join the cluster of the server at this URL (https://HOST:6443) as another server, with its server token (--token)")
	f.StringVar(&cfg.Token, "token", "", "server token of the cluster this server joins or whose datastore it shares (DATA_DIR/server/server-token on one of its servers)")
	f.DurationVar(&cfg.EtcdSnapshotInterval, "etcd-snapshot-interval", 12*time.Hour, "how often a server running an etcd member saves a snapshot under DATA_DIR/server/db/snapshots (0: never)")
	f.IntVar(&cfg.EtcdSnapshotRetention, "etcd-snapshot-retention", 5, "how many scheduled snapshots to keep")
	f.StringVar(&cfg.ServerName, "server-name", "", "this server's name among the servers of the cluster (default: the node name)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail")
	return cmd
}
