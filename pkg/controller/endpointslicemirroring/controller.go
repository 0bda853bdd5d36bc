package endpointslicemirroring

import (
	"context"
	"errors"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller"
	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// ControllerName is the endpointslice.kubernetes.io/managed-by value of the
// slices this controller owns.
const ControllerName = "endpointslicemirroring-controller.k8s.io"

// eventSource is the component upstream's controller records events as.
const eventSource = "endpoint-slice-mirroring-controller"

// Options tune the mirroring controller.
type Options struct {
	// Workers is how many Endpoints are mirrored at once (default 5, upstream's
	// --mirroring-concurrent-service-endpoint-syncs).
	Workers int
	// MaxEndpointsPerSubset caps the addresses mirrored from each subset
	// (default 1000, upstream's --mirroring-max-endpoints-per-subset, which is
	// also the most one slice may hold).
	MaxEndpointsPerSubset int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 5
	}
	if o.MaxEndpointsPerSubset <= 0 || o.MaxEndpointsPerSubset > 1000 {
		o.MaxEndpointsPerSubset = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Controller keeps the mirrored EndpointSlices of selectorless Services'
// Endpoints. Its keys are namespace/name of the Endpoints (and so of the
// Service).
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	endpoints corelisters.EndpointsLister
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	synced    []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	writes   *backends.Writes
	recorder record.EventRecorder // set by Run, before any worker starts
}

// errStale says the slice informer has not caught up with our last write yet.
var errStale = errors.New("EndpointSlice informer cache is older than our last write")

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	epInformer := factory.Core().V1().Endpoints()
	svcInformer := factory.Core().V1().Services()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:    client,
		opts:      opts,
		log:       opts.Logger.With("controller", "endpointslicemirroring"),
		endpoints: epInformer.Lister(),
		services:  svcInformer.Lister(),
		slices:    sliceInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice_mirroring"}),
		writes: backends.NewWrites(),
	}
	ei, si, li := epInformer.Informer(), svcInformer.Informer(), sliceInformer.Informer()
	c.synced = []cache.InformerSynced{ei.HasSynced, si.HasSynced, li.HasSynced}
	_, _ = ei.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.endpointsChanged,
		UpdateFunc: func(old, cur any) {
			// One that stops being mirrored needs its slices removed.
			if shouldMirror(old.(*corev1.Endpoints)) {
				c.enqueue(cur)
				return
			}
			c.endpointsChanged(cur)
		},
		DeleteFunc: c.endpointsChanged,
	})
	_, _ = si.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.selectorlessService,
		UpdateFunc: func(old, cur any) {
			if backends.HasSelector(old.(*corev1.Service)) != backends.HasSelector(cur.(*corev1.Service)) {
				c.enqueue(cur)
			}
		},
		DeleteFunc: c.selectorlessService,
	})
	_, _ = li.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.sliceChanged(nil, obj, false) },
		UpdateFunc: func(old, cur any) { c.sliceChanged(old, cur, false) },
		DeleteFunc: func(obj any) { c.sliceChanged(nil, obj, true) },
	})
	return c
}

// Run mirrors Endpoints until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, eventSource)
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("mirroring failed; retrying", "endpoints", key, "err", err)
	})
	return nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) endpointsChanged(obj any) {
	if ep, ok := controller.Deleted[*corev1.Endpoints](obj); ok && shouldMirror(ep) {
		c.enqueue(obj)
	}
}

// selectorlessService queues the Endpoints of a Service that appeared or went
// away; a Service with a selector never has mirrored slices.
func (c *Controller) selectorlessService(obj any) {
	if svc, ok := controller.Deleted[*corev1.Service](obj); ok && !backends.HasSelector(svc) {
		c.enqueue(obj)
	}
}

// sliceChanged sees every change to an EndpointSlice. Ours coming back need
// nothing; anyone else's change to (or deletion of) a slice we manage gets its
// Endpoints re-synced, as does a slice that stopped being ours or moved to
// another Service.
func (c *Controller) sliceChanged(old, obj any, gone bool) {
	s, ok := controller.Deleted[*discoveryv1.EndpointSlice](obj)
	if !ok {
		return
	}
	if prev, ok := old.(*discoveryv1.EndpointSlice); ok && managed(prev) &&
		(!managed(s) || prev.Labels[discoveryv1.LabelServiceName] != s.Labels[discoveryv1.LabelServiceName]) {
		c.queue.Add(s.Namespace + "/" + prev.Labels[discoveryv1.LabelServiceName])
	}
	if !managed(s) {
		return
	}
	key := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
	if c.writes.Observe(key, s, gone) {
		c.queue.Add(key)
	}
}

func managed(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == ControllerName && s.Labels[discoveryv1.LabelServiceName] != ""
}
