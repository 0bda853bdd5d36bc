package nodelifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Defaults of Options: upstream's --node-monitor-grace-period,
// --node-startup-grace-period and --node-monitor-period.
const (
	DefaultGracePeriod        = 40 * time.Second
	DefaultStartupGracePeriod = 60 * time.Second
	DefaultMonitorPeriod      = 5 * time.Second
)

// Options configure the controller.
type Options struct {
	// GracePeriod is how long a node may be silent (no Lease renewal, no status
	// heartbeat) before it is marked Ready=Unknown (default 40s).
	GracePeriod time.Duration
	// StartupGracePeriod replaces GracePeriod for a node that never posted a
	// Ready condition (default 60s).
	StartupGracePeriod time.Duration
	// MonitorPeriod is how often every node's health is checked (default 5s).
	MonitorPeriod time.Duration
	// Workers handle nodes, EvictionWorkers pods (defaults 4 and 8).
	Workers, EvictionWorkers int
	// Clock supplies the time (default the real clock).
	Clock clock.WithTicker
	// Logger receives errors (default discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.StartupGracePeriod <= 0 {
		o.StartupGracePeriod = DefaultStartupGracePeriod
	}
	if o.MonitorPeriod <= 0 {
		o.MonitorPeriod = DefaultMonitorPeriod
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.EvictionWorkers <= 0 {
		o.EvictionWorkers = 8
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// podsByNode indexes pods by spec.nodeName (the name is this package's, so it
// cannot collide with another loop's index on the shared informer).
const podsByNode = "nodelifecycle/spec.nodeName"

// Controller is the node lifecycle and taint eviction controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	clock  clock.WithTicker
	log    *slog.Logger

	nodes  corelisters.NodeLister
	pods   cache.Indexer
	synced []cache.InformerSynced

	// nodeQueue holds node names to check; podQueue pod keys to consider for
	// eviction.
	nodeQueue workqueue.TypedRateLimitingInterface[string]
	podQueue  workqueue.TypedRateLimitingInterface[string]

	broadcaster record.EventBroadcaster
	// recorder speaks as upstream's node-controller, evictions as its
	// taint-eviction-controller.
	recorder      record.EventRecorder
	evictRecorder record.EventRecorder

	mu     sync.Mutex
	health map[string]*nodeHealth // node name -> what was last heard
	// taintSeen is when a NoExecute taint without timeAdded was first seen,
	// by node, key and effect.
	taintSeen map[taintID]time.Time
	// scheduled holds the pods waiting out their tolerationSeconds.
	scheduled map[string]bool
}

// nodeHealth is what the controller last heard from a node, and when (by its
// own clock, so the node's clock does not matter).
type nodeHealth struct {
	probe     time.Time
	heartbeat time.Time // the Ready condition's lastHeartbeatTime
	renew     time.Time // the Lease's renewTime
}

type taintID struct{ node, key, effect string }

// New registers the controller's informers on factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts = opts.withDefaults()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client: client,
		opts:   opts,
		clock:  opts.Clock,
		log:    opts.Logger.With("controller", "nodelifecycle"),
		nodeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodelifecycle"}),
		podQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "taint-eviction"}),
		broadcaster:   broadcaster,
		recorder:      broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "node-controller"}),
		evictRecorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "taint-eviction-controller"}),
		health:        map[string]*nodeHealth{},
		taintSeen:     map[taintID]time.Time{},
		scheduled:     map[string]bool{},
	}

	nodeInformer := factory.Core().V1().Nodes()
	c.nodes = nodeInformer.Lister()
	_, _ = nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.nodeAdded(obj.(*corev1.Node)) },
		UpdateFunc: func(old, obj any) { c.nodeUpdated(old.(*corev1.Node), obj.(*corev1.Node)) },
		DeleteFunc: c.nodeDeleted,
	})

	leaseInformer := factory.Coordination().V1().Leases()
	_, _ = leaseInformer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			l, ok := obj.(*coordinationv1.Lease)
			return ok && l.Namespace == corev1.NamespaceNodeLease
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.observeLease(obj.(*coordinationv1.Lease)) },
			UpdateFunc: func(_, obj any) { c.observeLease(obj.(*coordinationv1.Lease)) },
		},
	})

	podInformer := factory.Core().V1().Pods().Informer()
	if err := podInformer.AddIndexers(cache.Indexers{podsByNode: indexByNodeName}); err != nil {
		c.log.Error("indexing pods by node", "err", err)
	}
	c.pods = podInformer.GetIndexer()
	_, _ = podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { c.podChanged(obj.(*corev1.Pod)) },
	})

	c.synced = []cache.InformerSynced{nodeInformer.Informer().HasSynced, leaseInformer.Informer().HasSynced, podInformer.HasSynced}
	return c
}

func indexByNodeName(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{pod.Spec.NodeName}, nil
}

// Run watches nodes until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.nodeQueue.ShutDown()
	defer c.podQueue.ShutDown()
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() { work(ctx, c.nodeQueue, c.syncNode, c.log, "node") })
	}
	for range c.opts.EvictionWorkers {
		wg.Go(func() { work(ctx, c.podQueue, c.syncPod, c.log, "pod") })
	}
	tick := c.clock.NewTicker(c.opts.MonitorPeriod)
	defer tick.Stop()
	for {
		c.enqueueAllNodes()
		select {
		case <-ctx.Done():
			c.nodeQueue.ShutDown()
			c.podQueue.ShutDown()
			wg.Wait()
			return nil
		case <-tick.C():
		}
	}
}

func (c *Controller) enqueueAllNodes() {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	for _, n := range nodes {
		c.nodeQueue.Add(n.Name)
	}
}

// work runs sync on the queue's items until the queue shuts down, retrying
// failures with back-off.
func work(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error, log *slog.Logger, what string) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		if err := sync(ctx, key); err != nil {
			if ctx.Err() == nil {
				log.Debug("sync failed", what, key, "err", err)
			}
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}

// podsOn lists the pods bound to a node.
func (c *Controller) podsOn(node string) []*corev1.Pod {
	objs, err := c.pods.ByIndex(podsByNode, node)
	if err != nil {
		// The index could not be added (the informer had started): scan.
		objs = c.pods.List()
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, obj := range objs {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName == node {
			pods = append(pods, p)
		}
	}
	return pods
}

// nodeRef is how events name a node, as upstream's node controllers do.
func nodeRef(node *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: node.UID}
}
