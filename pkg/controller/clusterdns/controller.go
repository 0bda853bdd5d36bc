package clusterdns

import (
	"context"
	"errors"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller"
	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the controller.
type Options struct {
	// MaxEndpoints caps the endpoints of the slice (default and most 1000,
	// what EndpointSlice validation allows); the nodes first by name are kept.
	MaxEndpoints int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.MaxEndpoints <= 0 || o.MaxEndpoints > MaxEndpoints {
		o.MaxEndpoints = MaxEndpoints
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// key is the one key of the queue: every change leads to the same slice.
const key = Namespace + "/" + SliceName

// errStale says the slice informer has not caught up with our last write yet.
var errStale = errors.New("EndpointSlice informer cache is older than our last write")

// Controller keeps the kube-dns Service's EndpointSlice.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	nodes     corelisters.NodeLister
	slices    discoverylisters.EndpointSliceLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced

	queue  workqueue.TypedRateLimitingInterface[string]
	writes *backends.Writes
	// capped is the node count last reported as over the cap, so that the
	// warning is not repeated on every sync.
	capped int
}

// New registers the controller's informers and handlers on factory; the
// caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	nodeInformer := factory.Core().V1().Nodes()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	endpointsInformer := factory.Core().V1().Endpoints()
	c := &Controller{
		client:    client,
		opts:      opts,
		log:       opts.Logger.With("controller", "clusterdns"),
		nodes:     nodeInformer.Lister(),
		slices:    sliceInformer.Lister(),
		endpoints: endpointsInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "clusterdns"}),
		writes: backends.NewWrites(),
	}
	ni, si, ei := nodeInformer.Informer(), sliceInformer.Informer(), endpointsInformer.Informer()
	c.synced = []cache.InformerSynced{ni.HasSynced, si.HasSynced, ei.HasSynced}
	ours := func(obj any) {
		if e, ok := controller.Deleted[*corev1.Endpoints](obj); ok && e.Namespace == Namespace && e.Name == ServiceName {
			c.queue.Add(key)
		}
	}
	_, _ = ei.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: ours, UpdateFunc: func(_, cur any) { ours(cur) }, DeleteFunc: ours,
	})
	_, _ = ni.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.nodeChanged,
		UpdateFunc: func(old, cur any) {
			// Heartbeats change neither what a node serves nor its readiness.
			o, ok1 := old.(*corev1.Node)
			n, ok2 := cur.(*corev1.Node)
			if !ok1 || !ok2 || o.Annotations[NodeAnnotation] != n.Annotations[NodeAnnotation] || nodeReady(o) != nodeReady(n) {
				c.queue.Add(key)
			}
		},
		DeleteFunc: c.nodeChanged,
	})
	_, _ = si.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.sliceChanged(obj, false) },
		UpdateFunc: func(_, cur any) { c.sliceChanged(cur, false) },
		DeleteFunc: func(obj any) { c.sliceChanged(obj, true) },
	})
	return c
}

// Run keeps the slice until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	// With no node annotated yet the slice still exists, empty, as upstream's
	// controllers keep one for a Service with no endpoints.
	c.queue.Add(key)
	workers.Run(ctx, c.queue, 1, c.sync, func(_ string, err error) {
		c.log.Info("writing the cluster DNS endpoints failed; retrying", "err", err)
	})
	return nil
}

// nodeChanged queues a sync for a node that appeared or went away while
// naming a DNS server; other nodes are not in the slice either way.
func (c *Controller) nodeChanged(obj any) {
	if n, ok := controller.Deleted[*corev1.Node](obj); ok && n.Annotations[NodeAnnotation] != "" {
		c.queue.Add(key)
	}
}

// sliceChanged queues a sync for any change to our slice that is not the echo
// of our own write (or that a sync waiting for the cache was waiting on).
func (c *Controller) sliceChanged(obj any, gone bool) {
	s, ok := controller.Deleted[*discoveryv1.EndpointSlice](obj)
	if !ok || s.Namespace != Namespace || s.Name != SliceName {
		return
	}
	if c.writes.Observe(key, s, gone) {
		c.queue.Add(key)
	}
}

// staleRetry is how long a sync waits for the informer to show our last
// write; the event that shows it re-queues the key sooner.
const staleRetry = time.Second
