package agent

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/pkg/agent/containerd"
)

// Defaults of Options.
const (
	DefaultDataDir           = "/var/lib/skiff"
	DefaultClusterCIDR       = "10.42.0.0/16"
	DefaultClusterDomain     = "cluster.local"
	DefaultCgroupRoot        = "/skiff"
	DefaultMaxPods           = 110
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultStatusInterval    = time.Minute
	DefaultPodCIDRTimeout    = 10 * time.Second
	DefaultRelistPeriod      = time.Second
	DefaultBackOffBase       = 10 * time.Second
	DefaultBackOffMax        = 5 * time.Minute
	DefaultPullBackOffBase   = 10 * time.Second

	// KubeletVersion is what the Node reports as nodeInfo.kubeletVersion.
	KubeletVersion = "v1.33.0+skiff"
	// LeaseDurationSeconds is what the node's Lease claims, as a kubelet's.
	LeaseDurationSeconds = 40
	// BridgeName is the Linux bridge the pod network hangs off.
	BridgeName = "skiff0"
)

// Mirror is a registry pulls go through first; see Options.Mirror.
type Mirror = containerd.Mirror

// Options configure an agent. The zero value of every field is a usable
// default.
type Options struct {
	// NodeName is the Node's name (default: the hostname, lower-cased).
	NodeName string
	// NodeIP is the InternalIP the node reports (default: the first
	// non-loopback address of this host).
	NodeIP string
	// DataDir holds the agent's state under DataDir/agent (default
	// /var/lib/skiff).
	DataDir string

	// ContainerRuntimeEndpoint uses an existing CRI runtime at this socket
	// instead of starting containerd. The pause image and the CNI
	// configuration are then that runtime's business.
	ContainerRuntimeEndpoint string
	// ContainerdBinary and CNIBinDir locate the programs of the supervised
	// runtime (defaults /usr/bin/containerd and /usr/lib/cni).
	ContainerdBinary, CNIBinDir string
	// NetNS, when set, is the network namespace (/run/netns/NAME) the node's
	// networking lives in: containerd and the pod network run there, and the
	// agent's probes dial from there. The agent's API traffic stays where the
	// agent runs. For tests and multi-node models on one machine.
	NetNS string
	// ImportImages are image tarballs imported into the supervised runtime
	// after every start, next to the pause image.
	ImportImages []string
	// Mirror is the registry the supervised containerd pulls every image
	// through first (Skiff's cluster registry, with this node's client
	// certificate), before the registry the image names. Unset: none.
	Mirror Mirror

	// PodCIDR fixes the node's pod CIDR instead of waiting for the node IPAM
	// controller to assign one in spec.podCIDR.
	PodCIDR string
	// PodCIDRTimeout is how long to wait for spec.podCIDR (10s) before
	// deriving a /24 of ClusterCIDR from the node's name.
	PodCIDRTimeout time.Duration
	// ClusterCIDR is the range pod CIDRs come from (10.42.0.0/16).
	ClusterCIDR string
	// ClusterDNS are the nameservers of pods with dnsPolicy ClusterFirst;
	// without them such pods get the node's resolver configuration, as
	// upstream's kubelet does when it has no cluster DNS.
	ClusterDNS []string
	// MTU is the pods' interface MTU (0: the link default); an overlay
	// network sets it below the node link's to fit its headers.
	MTU int
	// ClusterDomain is the DNS domain of the cluster (cluster.local).
	ClusterDomain string
	// ResolvConf is the node's resolver configuration (default
	// /run/systemd/resolve/resolv.conf when it exists, else /etc/resolv.conf).
	ResolvConf string

	// CgroupRoot is the cgroup parent of every pod (/skiff).
	CgroupRoot string
	// Labels are added to the Node's well-known labels; Taints are set when
	// the node registers.
	Labels map[string]string
	Taints []corev1.Taint
	// MaxPods is the node's pod capacity (110).
	MaxPods int

	// HeartbeatInterval is how often the Lease is renewed (10s);
	// StatusInterval how often an unchanged node status is re-posted (1m).
	HeartbeatInterval, StatusInterval time.Duration
	// RelistPeriod is how often the runtime is polled for containers that
	// changed state (1s).
	RelistPeriod time.Duration
	// BackOffBase and BackOffMax bound the crash-loop back-off (10s doubling
	// to 5m, as upstream); PullBackOffBase the image pull back-off (10s).
	BackOffBase, BackOffMax, PullBackOffBase time.Duration

	// RemovePodsOnExit stops and removes every pod's sandbox and containers
	// when Run returns. Normally the pods keep running without the agent and
	// the next agent adopts them; tests want a clean machine.
	RemovePodsOnExit bool

	// Logger receives the agent's messages (default discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return o, fmt.Errorf("node name: %w (pass --node-name)", err)
		}
		o.NodeName = strings.ToLower(h)
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return o, err
	}
	o.DataDir = abs
	if o.NodeIP == "" {
		ip, err := firstHostIP()
		if err != nil {
			return o, err
		}
		o.NodeIP = ip
	}
	if net.ParseIP(o.NodeIP) == nil {
		return o, fmt.Errorf("--node-ip %q is not an IP address", o.NodeIP)
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = DefaultClusterCIDR
	}
	if _, _, err := net.ParseCIDR(o.ClusterCIDR); err != nil {
		return o, fmt.Errorf("--cluster-cidr %q: %w", o.ClusterCIDR, err)
	}
	if o.PodCIDR != "" {
		if _, _, err := net.ParseCIDR(o.PodCIDR); err != nil {
			return o, fmt.Errorf("pod CIDR %q: %w", o.PodCIDR, err)
		}
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = DefaultClusterDomain
	}
	if o.ResolvConf == "" {
		o.ResolvConf = "/etc/resolv.conf"
		if _, err := os.Stat("/run/systemd/resolve/resolv.conf"); err == nil {
			o.ResolvConf = "/run/systemd/resolve/resolv.conf"
		}
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = DefaultCgroupRoot
	}
	o.CgroupRoot = "/" + strings.Trim(o.CgroupRoot, "/")
	if o.MaxPods <= 0 {
		o.MaxPods = DefaultMaxPods
	}
	if o.PodCIDRTimeout <= 0 {
		o.PodCIDRTimeout = DefaultPodCIDRTimeout
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.RelistPeriod <= 0 {
		o.RelistPeriod = DefaultRelistPeriod
	}
	if o.BackOffBase <= 0 {
		o.BackOffBase = DefaultBackOffBase
	}
	if o.BackOffMax <= 0 {
		o.BackOffMax = DefaultBackOffMax
	}
	if o.BackOffMax < o.BackOffBase {
		o.BackOffMax = o.BackOffBase
	}
	if o.PullBackOffBase <= 0 {
		o.PullBackOffBase = DefaultPullBackOffBase
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// firstHostIP is the first global unicast address of an interface that is up,
// preferring IPv4.
func firstHostIP() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("node IP: %w (pass --node-ip)", err)
	}
	var v6 string
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 || iface.Name == BridgeName {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			if ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
			if v6 == "" {
				v6 = ipn.IP.String()
			}
		}
	}
	if v6 != "" {
		return v6, nil
	}
	return "", fmt.Errorf("node IP: no interface has a non-loopback address (pass --node-ip)")
}
