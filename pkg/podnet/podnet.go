package podnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Backend is how pod traffic crosses between nodes.
type Backend string

const (
	// HostGW routes each node's pod CIDR via that node's InternalIP; all
	// nodes must share one link.
	HostGW Backend = "host-gw"
	// VXLAN encapsulates pod traffic to the node's InternalIP; nodes only
	// need to reach each other by IP.
	VXLAN Backend = "vxlan"
)

// ParseBackend checks the value of --network-backend.
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case HostGW, VXLAN:
		return b, nil
	}
	return "", fmt.Errorf("network backend %q: want %q or %q", s, HostGW, VXLAN)
}

const (
	// RouteProtocol marks the routes podnet owns (rtm_protocol; `ip route`
	// shows "proto 83"). Nothing else on a node uses it.
	RouteProtocol = 83
	// VXLANDevice is the tunnel device of the vxlan backend.
	VXLANDevice = "skiff.vxlan"
	// VXLANID and VXLANPort are the VNI and the UDP port (Linux's and
	// flannel's 8472 rather than IANA's 4789) of every node's tunnel.
	VXLANID   = 1
	VXLANPort = 8472
	// VXLANOverhead is what encapsulation adds to each packet: outer IPv4
	// (20), UDP (8), VXLAN (8) and inner Ethernet (14) headers.
	VXLANOverhead = 50
	// VXLANMACAnnotation on a Node is the MAC of that node's tunnel device.
	VXLANMACAnnotation = "skiff.io/vxlan-mac"

	// DefaultResyncPeriod is how often the kernel's state is compared with
	// the wanted one even when no Node changed.
	DefaultResyncPeriod = time.Minute
)

// Options configure a Network.
type Options struct {
	// NodeName is this node's Node; it is the only one podnet patches.
	NodeName string
	// NodeIP is this node's InternalIP: the next hop other nodes route to
	// with host-gw, the tunnel's local address with vxlan. It must be an
	// IPv4 address of a link in the namespace.
	NodeIP net.IP
	// ClusterCIDR bounds the pod CIDRs podnet routes (nil: any).
	ClusterCIDR *net.IPNet
	// Backend is host-gw (the default) or vxlan.
	Backend Backend
	// NetNS, when set, is the network namespace (/run/netns/NAME) whose
	// routes and devices podnet programs instead of its own, as
	// agent.Options.NetNS. For tests and multi-node models on one machine.
	NetNS string
	// ResyncPeriod is DefaultResyncPeriod when zero.
	ResyncPeriod time.Duration
	Logger       *slog.Logger
}

// Network keeps this node's routes (and, with vxlan, its tunnel) in step
// with the cluster's Nodes.
type Network struct {
	opts    Options
	log     *slog.Logger
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	nodes   corelisters.NodeLister
	synced  cache.InformerSynced
	nodeIP  netip.Addr
	cluster netip.Prefix
	mtu     int
	trigger chan struct{}

	mu       sync.Mutex // serialises syncs and Cleanup
	problems map[string]string
	// published is the MAC last patched into our Node and the Node's
	// resourceVersion then.
	published [2]string
	ready     chan struct{}
	once      sync.Once
}

// New builds a Network on factory's Node informer; Run starts the factory
// if the caller has not. It looks up the link that holds NodeIP to work out
// MTU, so the namespace's links must be up.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) (*Network, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Backend == "" {
		opts.Backend = HostGW
	}
	if _, err := ParseBackend(string(opts.Backend)); err != nil {
		return nil, err
	}
	if opts.NodeName == "" {
		return nil, errors.New("podnet: no node name")
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = DefaultResyncPeriod
	}
	n := &Network{
		opts:     opts,
		log:      opts.Logger,
		client:   client,
		factory:  factory,
		trigger:  make(chan struct{}, 1),
		problems: map[string]string{},
		ready:    make(chan struct{}),
	}
	ip, ok := netip.AddrFromSlice(opts.NodeIP)
	if !ok || !ip.Unmap().Is4() {
		return nil, fmt.Errorf("podnet: node IP %v: want an IPv4 address", opts.NodeIP)
	}
	n.nodeIP = ip.Unmap()
	if c := opts.ClusterCIDR; c != nil {
		a, ok := netip.AddrFromSlice(c.IP)
		bits, _ := c.Mask.Size()
		if !ok || !a.Unmap().Is4() {
			return nil, fmt.Errorf("podnet: cluster CIDR %v: only IPv4 is supported", c)
		}
		n.cluster = netip.PrefixFrom(a.Unmap(), bits).Masked()
	}
	mtu, err := PodMTU(opts.NetNS, opts.NodeIP, opts.Backend)
	if err != nil {
		return nil, err
	}
	n.mtu = mtu

	inf := factory.Core().V1().Nodes()
	_, err = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { n.kick() },
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Node)
			c, ok2 := cur.(*corev1.Node)
			// Heartbeats change a node every few seconds; only what
			// routing reads is worth a sync.
			if !ok1 || !ok2 || !reflect.DeepEqual(routingFacts(o), routingFacts(c)) {
				n.kick()
			}
		},
		DeleteFunc: func(any) { n.kick() },
	})
	if err != nil {
		return nil, fmt.Errorf("podnet: node informer: %w", err)
	}
	n.nodes = inf.Lister()
	n.synced = inf.Informer().HasSynced
	return n, nil
}

// routingFacts is what of a Node the routes depend on.
func routingFacts(n *corev1.Node) [3]string {
	return [3]string{podCIDROf(n).String(), internalIPOf(n).String(), n.Annotations[VXLANMACAnnotation]}
}

// PodMTU is the MTU pods' interfaces (and the CNI bridge) should have on a
// node whose InternalIP is nodeIP, in the network namespace netns (empty:
// this one): the MTU of the link holding nodeIP, less VXLANOverhead with
// vxlan. It is what Network.MTU says, for callers that must write the CNI
// configuration before they build the Network.
func PodMTU(netns string, nodeIP net.IP, backend Backend) (int, error) {
	ip, ok := netip.AddrFromSlice(nodeIP)
	if !ok || !ip.Unmap().Is4() {
		return 0, fmt.Errorf("podnet: node IP %v: want an IPv4 address", nodeIP)
	}
	var mtu int
	err := withHandle(netns, func(h handle) error {
		link, err := linkWithAddr(h, ip.Unmap())
		if err != nil {
			return err
		}
		mtu = link.Attrs().MTU
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("podnet: %w", err)
	}
	if backend == VXLAN {
		mtu -= VXLANOverhead
	}
	return mtu, nil
}

// MTU is what pods' interfaces (and the CNI bridge) should use: the MTU of
// the link holding NodeIP, less VXLANOverhead with vxlan. It is worked out
// once, in New.
func (n *Network) MTU() int { return n.mtu }

// Ready is closed after the first successful sync.
func (n *Network) Ready() <-chan struct{} { return n.ready }

func (n *Network) kick() {
	select {
	case n.trigger <- struct{}{}:
	default:
	}
}

// Run keeps the kernel in step with the Nodes until ctx ends. It leaves
// routes and the tunnel in place when it returns, so that pods keep
// talking while podnet restarts; Cleanup removes them.
func (n *Network) Run(ctx context.Context) error {
	n.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), n.synced) {
		return fmt.Errorf("podnet: waiting for the node informer: %w", ctx.Err())
	}
	if err := n.enableForwarding(); err != nil {
		n.log.Error("pods on other nodes will not be reachable", "err", err)
	}
	if n.opts.Backend != VXLAN {
		// Left by an earlier run with --network-backend vxlan.
		if err := n.withHandle(deleteVXLAN); err != nil {
			n.log.Error("removing the vxlan device", "device", VXLANDevice, "err", err)
		}
	}
	n.log.Info("pod network", "backend", n.opts.Backend, "node", n.opts.NodeName, "nodeIP", n.nodeIP, "mtu", n.mtu)
	resync := time.NewTicker(n.opts.ResyncPeriod)
	defer resync.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.trigger:
		case <-resync.C:
		case <-retry.C:
		}
		err := n.sync(ctx)
		if err != nil {
			// A wait (for a pod CIDR, for our Node) repeats every second:
			// say it once.
			if err.Error() != lastErr {
				n.log.Error("pod network sync failed; retrying", "err", err)
			}
			lastErr = err.Error()
			retry.Reset(time.Second)
			continue
		}
		if lastErr != "" {
			n.log.Info("pod network sync recovered")
			lastErr = ""
		}
		n.once.Do(func() { close(n.ready) })
	}
}

// sync makes the kernel match the Nodes once.
func (n *Network) sync(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	nodes, err := n.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	var self *corev1.Node
	for _, node := range nodes {
		if node.Name == n.opts.NodeName {
			self = node
		}
	}
	peers, skipped := peersOf(nodes, n.opts.NodeName, n.nodeIP, n.cluster, n.opts.Backend == VXLAN)
	return n.withHandle(func(h handle) error {
		if n.opts.Backend == VXLAN {
			return n.syncVXLAN(ctx, h, self, peers, skipped)
		}
		return n.syncHostGW(h, peers, skipped)
	})
}

// report logs each node podnet cannot route once, when the reason first
// appears or changes, and again when it goes away.
func (n *Network) report(problems map[string]string) {
	for name, why := range problems {
		if n.problems[name] != why {
			n.log.Error("not routing pods of node", "node", name, "reason", why)
		}
	}
	for name := range n.problems {
		if _, ok := problems[name]; !ok {
			n.log.Info("node's pods are routable again, or the node is gone", "node", name)
		}
	}
	n.problems = problems
}

// Cleanup removes every route and device podnet made. Run must have
// returned.
func (n *Network) Cleanup() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.withHandle(func(h handle) error {
		_, err := syncRoutes(h, nil, n.log)
		return errors.Join(deleteVXLAN(h), err)
	})
}
