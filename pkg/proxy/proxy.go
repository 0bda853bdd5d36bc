package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Options configure a Proxy.
type Options struct {
	// NodeName is this node's name: endpoints whose EndpointSlice nodeName
	// equals it are local (externalTrafficPolicy: Local).
	NodeName string
	// NodeIPs are the addresses NodePorts answer on. Health check node ports
	// answer on every address of the node.
	NodeIPs []net.IP
	// ClusterCIDR is the pod network; traffic from outside it is masqueraded
	// after DNAT. Nil masquerades all service traffic.
	ClusterCIDR *net.IPNet
	// MinSyncPeriod is the least time between two programmings of the table;
	// changes within it are batched into one sync.
	MinSyncPeriod time.Duration
	Logger        *slog.Logger
	// NetNSPath, when set, names the network namespace (e.g.
	// /var/run/netns/x) whose nftables the proxy programs, and where it
	// serves health check node ports, instead of its own.
	NetNSPath string
}

// Proxy keeps the skiff-proxy nftables table in step with Services and
// EndpointSlices.
type Proxy struct {
	opts     Options
	log      *slog.Logger
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	nodes    corelisters.NodeLister
	synced   []cache.InformerSynced
	nodeIPs  []netip.Addr
	trigger  chan struct{}

	mu sync.Mutex // serialises netlink batches
	// state is what the table holds, per service port; nil until a sync
	// succeeds (and after one fails), when the next sync reconciles the whole
	// table with what it finds in the kernel.
	state     map[string]programmed
	lastStats syncStats

	health *healthServer

	ready chan struct{}
	once  sync.Once
}

// New builds a Proxy on factory's Service and EndpointSlice informers. Run
// starts the factory if the caller has not.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) (*Proxy, error) {
	_ = client // reserved for events and node lookups
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		opts:    opts,
		log:     opts.Logger,
		factory: factory,
		trigger: make(chan struct{}, 1),
		ready:   make(chan struct{}),
		health:  newHealthServer(opts.Logger, opts.NetNSPath),
	}
	for _, ip := range opts.NodeIPs {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return nil, fmt.Errorf("node IP %v: not an IP address", ip)
		}
		if a = a.Unmap(); a.Is4() {
			p.nodeIPs = append(p.nodeIPs, a)
		}
	}
	if c := opts.ClusterCIDR; c != nil && c.IP.To4() == nil {
		return nil, fmt.Errorf("cluster CIDR %v: only IPv4 is supported", c)
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.kick() },
		UpdateFunc: func(any, any) { p.kick() },
		DeleteFunc: func(any) { p.kick() },
	}
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	if _, err := svcInf.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("service informer: %w", err)
	}
	if _, err := sliceInf.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("endpointslice informer: %w", err)
	}
	// Every node's addresses: a LoadBalancer ingress IP that is some node's
	// address is that node's to answer, never to be claimed on skiff-lb here.
	nodeInf := factory.Core().V1().Nodes()
	if _, err := nodeInf.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("node informer: %w", err)
	}
	p.services = svcInf.Lister()
	p.slices = sliceInf.Lister()
	p.nodes = nodeInf.Lister()
	p.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced, nodeInf.Informer().HasSynced}
	return p, nil
}

func (p *Proxy) kick() {
	select {
	case p.trigger <- struct{}{}:
	default:
	}
}

// Ready is closed after the first successful sync.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Run programs the table and serves health check node ports until ctx ends.
// It leaves the rules in place when it returns, so a restarting proxy does
// not black-hole new connections; Cleanup removes them.
func (p *Proxy) Run(ctx context.Context) error {
	defer p.health.close()
	p.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		return fmt.Errorf("proxy: waiting for informers: %w", ctx.Err())
	}
	p.kick()
	const retry = time.Second
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.trigger:
		}
		if wait := p.opts.MinSyncPeriod - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		last = time.Now()
		if err := p.Sync(); err != nil {
			p.log.Error("proxy sync failed; retrying", "err", err)
			time.AfterFunc(retry, p.kick)
			continue
		}
		p.once.Do(func() { close(p.ready) })
	}
}

// Sync programs the table, and the health check node ports, from the
// informers' current contents, now.
func (p *Proxy) Sync() error {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing services: %w", err)
	}
	sl, err := p.slices.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing endpointslices: %w", err)
	}
	m := BuildModel(svcs, sl, p.opts.NodeName)
	start := time.Now()
	err = p.apply(m)
	if err == nil {
		err = p.syncLBAddresses(m.LoadBalancerIPs())
	}
	// A node whose rules are not programmed answers its health checks with
	// 503 until a sync succeeds, so load balancers stop sending it traffic.
	p.health.sync(HealthChecks(svcs, m), err == nil)
	if err != nil {
		return err
	}
	st := p.stats()
	p.log.Debug("proxy synced", "servicePorts", len(m.Services), "full", st.Full,
		"changed", st.Changed, "chains", st.Chains, "took", time.Since(start))
	return nil
}

func (p *Proxy) stats() syncStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastStats
}

// apply programs m into the table: only what changed since the last
// successful apply, or, the first time, by reconciling whatever the table
// holds (a previous run's rules are updated in place, not dropped).
func (p *Proxy) apply(m Model) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &renderer{nodeIPs: p.nodeIPs, clusterCIDR: p.opts.ClusterCIDR}
	write := func(plan func(*batch) (map[string]programmed, error)) error {
		c, done, err := p.conn()
		if err != nil {
			return err
		}
		defer done()
		b := &batch{c: c, r: r}
		state, err := plan(b)
		if err == nil && (b.Full || b.Changed > 0) {
			err = c.Flush()
		}
		if err != nil {
			return fmt.Errorf("programming nftables table %q: %w", TableName, err)
		}
		p.state, p.lastStats = state, b.syncStats
		return nil
	}
	if p.state != nil {
		err := write(func(b *batch) (map[string]programmed, error) { return b.incremental(p.state, m) })
		if err == nil {
			return nil
		}
		// The table is not what we think: someone changed it, or a batch
		// half-planned. Reconcile it as a whole.
		p.log.Warn("incremental proxy sync failed; reconciling the whole table", "err", err)
		p.state = nil
	}
	err := write(func(b *batch) (map[string]programmed, error) { return b.full(m) })
	if err == nil {
		return nil
	}
	p.log.Warn("reconciling the proxy table failed; replacing it", "err", err)
	return write(func(b *batch) (map[string]programmed, error) { return b.rebuild(m) })
}

// Cleanup removes the proxy's table and its LoadBalancer interface, and
// nothing else, and stops serving health check node ports. Missing ones are
// not an error.
func (p *Proxy) Cleanup() error {
	p.health.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = nil
	c, done, err := p.conn()
	if err != nil {
		return err
	}
	defer done()
	if err := deleteTable(c); err != nil {
		return err
	}
	r, err := p.route()
	if err != nil {
		return err
	}
	defer r.Close()
	return r.deleteLink(LBInterface)
}
