package hollow

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Defaults of Options.
const (
	DefaultPods              = 110
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultStatusInterval    = time.Minute
	DefaultWorkers           = 4
	// LeaseDurationSeconds is what the node's Lease claims, as a kubelet's does.
	LeaseDurationSeconds = 40
)

// Identity a hollow node reports.
const (
	KubeletVersion          = "v1.33.0+skiff"
	ContainerRuntimeVersion = "hollow://1.0"
	OSImage                 = "Skiff hollow node"
	InstanceType            = "hollow"
	// KubeletPort is the port the node claims to serve on; nothing listens.
	KubeletPort = 10250
)

var (
	// DefaultCPU and DefaultMemory are a hollow node's capacity unless Options
	// say otherwise.
	DefaultCPU    = resource.MustParse("4")
	DefaultMemory = resource.MustParse("16Gi")
	// ephemeralStorage is reported so that requests for it can be scheduled.
	ephemeralStorage = resource.MustParse("100Gi")
)

// Options describe one hollow node.
type Options struct {
	// Name of the Node (required, except for StartN where it is the prefix,
	// default "hollow").
	Name string
	// CPU, Memory and Pods are the node's capacity and allocatable (defaults 4,
	// 16Gi and 110).
	CPU, Memory resource.Quantity
	Pods        int
	// Labels are added to the well-known node labels.
	Labels map[string]string
	// InternalIP is the address the node reports; default one made up from the
	// name (hollow-N gets 10.255.N/256.N%256). It is never contacted.
	InternalIP string
	// HeartbeatInterval is how often the Lease is renewed (default 10s).
	HeartbeatInterval time.Duration
	// StatusInterval is how often the Node status is re-posted when nothing
	// changed (default 1m).
	StatusInterval time.Duration
	// Workers is how many pod status updates are in flight at once (default 4;
	// 1 for the nodes of StartN).
	Workers int
	// Clock supplies time (default the real clock).
	Clock clock.WithTicker
	// Logger receives the node's errors (default discard).
	Logger *slog.Logger
	// Informers, for StartN, supplies the pod and node informers its nodes
	// share: a server passes its controllers' factory, so that each pod is
	// cached once in the process. StartN starts it. By default StartN's nodes
	// share informers of their own; a node made by New always watches alone.
	Informers informers.SharedInformerFactory
}

func (o Options) withDefaults() Options {
	if o.CPU.IsZero() {
		o.CPU = DefaultCPU.DeepCopy()
	}
	if o.Memory.IsZero() {
		o.Memory = DefaultMemory.DeepCopy()
	}
	if o.Pods <= 0 {
		o.Pods = DefaultPods
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.InternalIP == "" {
		o.InternalIP = madeUpAddress(o.Name).String()
	}
	return o
}

// Node is one hollow node. Run it once; to bring a stopped node back, make a
// new one with the same name.
type Node struct {
	client kubernetes.Interface
	opts   Options
	name   string
	log    *slog.Logger
	clock  clock.WithTicker
	kernel string

	ready   chan struct{}
	done    chan struct{}
	err     error
	started sync.Once

	fleet        *fleet // the informers of StartN's nodes; nil for a node on its own
	nodeInformer cache.SharedIndexInformer
	podInformer  cache.SharedIndexInformer
	queue        workqueue.TypedRateLimitingInterface[string]
	// statusNow asks the heartbeat loop for a status post out of turn.
	statusNow chan struct{}

	mu      sync.Mutex
	lease   *coordinationv1.Lease
	pool    *ipPool              // nil until the node has a podCIDR
	pods    map[string]podRecord // pod key -> what this node gave it
	waiting map[string]bool      // pods waiting for a podCIDR
}

// podRecord is the address a pod got and the incarnation it got it for.
type podRecord struct {
	uid string
	ip  netip.Addr
}

// New prepares a hollow node; Run starts it.
func New(client kubernetes.Interface, opts Options) *Node {
	opts = opts.withDefaults()
	return &Node{
		client:    client,
		opts:      opts,
		name:      opts.Name,
		log:       opts.Logger.With("node", opts.Name),
		clock:     opts.Clock,
		kernel:    kernelVersion(),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		statusNow: make(chan struct{}, 1),
		pods:      map[string]podRecord{},
		waiting:   map[string]bool{},
	}
}

// Name is the node's name.
func (n *Node) Name() string { return n.name }

// InternalIP is the address the node reports.
func (n *Node) InternalIP() string { return n.opts.InternalIP }

// Ready is closed once the Node is registered, its Lease exists and its pods
// are being handled.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Done is closed when Run has returned; Err then tells why.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err is Run's result, once Done is closed.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.err
	default:
		return nil
	}
}

// Run registers the node and keeps it alive until ctx ends. Then it simply
// stops: the node controller notices the silence. It returns nil on
// cancellation.
func (n *Node) Run(ctx context.Context) error {
	err := errors.New("hollow node: Run called twice")
	n.started.Do(func() {
		err = n.run(ctx)
		n.err = err
		close(n.done)
	})
	return err
}

func (n *Node) run(ctx context.Context) error {
	if n.name == "" {
		return errors.New("hollow node: Options.Name is required")
	}
	if _, err := netip.ParseAddr(n.opts.InternalIP); err != nil {
		return fmt.Errorf("hollow node %q: InternalIP: %w", n.name, err)
	}
	node, err := n.register(ctx)
	if err != nil {
		return ignoreCanceled(ctx, err)
	}
	if err := n.renewLease(ctx, node); err != nil {
		return ignoreCanceled(ctx, err)
	}

	n.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "hollow-" + n.name, Clock: n.clock})
	n.watchNode()
	n.watchPods()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer n.queue.ShutDown()

	if n.fleet != nil {
		// The fleet's informers run already: take this node's events from now
		// on, then catch up with what they hold.
		n.fleet.join(n)
		defer n.fleet.leave(n)
	} else {
		wg.Go(func() { n.nodeInformer.RunWithContext(ctx) })
	}
	if !cache.WaitForCacheSync(ctx.Done(), n.nodeInformer.HasSynced) {
		return nil
	}
	n.observeNode(n.currentNode())
	if n.fleet == nil {
		wg.Go(func() { n.podInformer.RunWithContext(ctx) })
	}
	if !cache.WaitForCacheSync(ctx.Done(), n.podInformer.HasSynced) {
		return nil
	}
	if n.fleet != nil {
		for _, pod := range n.ownPods() {
			n.enqueue(pod)
		}
	}
	// Addresses pods already hold (this node ran before) are taken before any
	// is handed out.
	n.adoptPodIPs()
	for range n.opts.Workers {
		wg.Go(func() {
			for n.processNext(ctx) {
			}
		})
	}
	close(n.ready)
	n.heartbeat(ctx)
	return nil
}

func ignoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// heartbeat renews the Lease every HeartbeatInterval and posts the Node status
// every StatusInterval, or at once when asked to.
func (n *Node) heartbeat(ctx context.Context) {
	leaseTick := n.clock.NewTicker(n.opts.HeartbeatInterval)
	defer leaseTick.Stop()
	statusTick := n.clock.NewTicker(n.opts.StatusInterval)
	defer statusTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-leaseTick.C():
			if err := n.renewLease(ctx, n.currentNode()); err != nil && ctx.Err() == nil {
				n.log.Warn("renewing lease", "err", err)
			}
		case <-statusTick.C():
			n.postStatusLogged(ctx)
		case <-n.statusNow:
			n.postStatusLogged(ctx)
		}
	}
}

func (n *Node) postStatusLogged(ctx context.Context) {
	if err := n.postStatus(ctx); err != nil && ctx.Err() == nil {
		n.log.Warn("posting node status", "err", err)
	}
}

// requestStatus asks for a status post without waiting for it.
func (n *Node) requestStatus() {
	select {
	case n.statusNow <- struct{}{}:
	default:
	}
}

// retry calls f until it succeeds or ctx ends, backing off up to 5s.
func retry(ctx context.Context, c clock.Clock, f func() error) error {
	delay := 50 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-c.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

var numbered = regexp.MustCompile(`^hollow-(\d+)$`)

// madeUpAddress is a stable address for a node name: hollow-N gets the Nth
// address of 10.255.0.0/16, any other name one hashed into 10.128.0.0/9.
func madeUpAddress(name string) netip.Addr {
	if m := numbered.FindStringSubmatch(name); m != nil {
		if i, err := strconv.Atoi(m[1]); err == nil && i > 0 && i < 1<<16-1 {
			return netip.AddrFrom4([4]byte{10, 255, byte(i >> 8), byte(i)})
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()%(1<<23-2) + 1
	return netip.AddrFrom4([4]byte{10, 128 | byte(v>>16), byte(v >> 8), byte(v)})
}

func cloneLabels(l map[string]string) map[string]string {
	if l == nil {
		return nil
	}
	return maps.Clone(l)
}
