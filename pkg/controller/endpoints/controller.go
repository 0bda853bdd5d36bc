package endpoints

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Upstream's names for what this controller writes.
const (
	// LabelManagedBy marks the Endpoints this controller created.
	LabelManagedBy = "endpoints.kubernetes.io/managed-by"
	// ControllerName is LabelManagedBy's value and the events' source.
	ControllerName = "endpoint-controller"
)

// Options tune the endpoints controller.
type Options struct {
	// Workers is how many Services are synced at once (default 5, upstream's
	// --concurrent-endpoint-syncs).
	Workers int
	// BatchPeriod delays the sync a pod change triggers so that a burst of
	// changes becomes one write (default 0, upstream's
	// --endpoint-updates-batch-period).
	BatchPeriod time.Duration
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Controller keeps each selector Service's Endpoints.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	triggers *backends.TriggerTimes
	writes   *backends.Writes
	recorder record.EventRecorder // set by Run, before any worker starts
}

// errStale says the informer has not caught up with our last write yet.
var errStale = errors.New("endpoints informer cache is older than our last write")

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	svcInformer := factory.Core().V1().Services()
	podInformer := factory.Core().V1().Pods()
	epInformer := factory.Core().V1().Endpoints()
	c := &Controller{
		client:    client,
		opts:      opts,
		log:       opts.Logger.With("controller", "endpoints"),
		services:  svcInformer.Lister(),
		pods:      podInformer.Lister(),
		endpoints: epInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint"}),
		triggers: backends.NewTriggerTimes(),
		writes:   backends.NewWrites(),
	}
	si, pi, ei := svcInformer.Informer(), podInformer.Informer(), epInformer.Informer()
	c.synced = []cache.InformerSynced{si.HasSynced, pi.HasSynced, ei.HasSynced}
	_, _ = si.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateService,
		DeleteFunc: c.enqueue,
	})
	_, _ = pi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	_, _ = ei.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.endpointsChanged(obj, false) },
		UpdateFunc: func(_, cur any) { c.endpointsChanged(cur, false) },
		DeleteFunc: func(obj any) { c.endpointsChanged(obj, true) },
	})
	return c
}

// Run syncs Endpoints until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, ControllerName)
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	c.enqueueLeftovers()
	workers.Run(ctx, c.queue, c.opts.Workers, func(ctx context.Context, key string) error {
		err := c.sync(ctx, key)
		if errors.Is(err, errStale) {
			// The event that completes our own write re-queues the key; this is
			// the fallback should it never come.
			return workers.After(time.Second, err)
		}
		return err
	}, func(key string, err error) {
		c.log.Info("sync failed; retrying", "service", key, "err", err)
	})
	return nil
}

// enqueueLeftovers queues the Endpoints this controller made whose Service
// is gone (deleted while the controller was down), so the sync deletes them.
func (c *Controller) enqueueLeftovers() {
	list, err := c.endpoints.List(labels.SelectorFromSet(labels.Set{LabelManagedBy: ControllerName}))
	if err != nil {
		return
	}
	for _, ep := range list {
		if _, err := c.services.Services(ep.Namespace).Get(ep.Name); apierrors.IsNotFound(err) {
			c.queue.Add(ep.Namespace + "/" + ep.Name)
		}
	}
}

func (c *Controller) enqueue(obj any) {
	if key, ok := backends.ServiceKey(obj); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) updateService(old, cur any) {
	o, n := old.(*corev1.Service), cur.(*corev1.Service)
	// Status writes (the load balancer's) change nothing the endpoints show.
	if o.UID == n.UID && reflect.DeepEqual(o.Spec, n.Spec) && reflect.DeepEqual(o.Labels, n.Labels) {
		return
	}
	c.enqueue(cur)
}

func (c *Controller) enqueuePodServices(keys []string) {
	for _, key := range keys {
		if c.opts.BatchPeriod > 0 {
			c.queue.AddAfter(key, c.opts.BatchPeriod)
		} else {
			c.queue.Add(key)
		}
	}
}

func (c *Controller) addPod(obj any) {
	c.enqueuePodServices(backends.ServicesForPod(c.services, obj.(*corev1.Pod)))
}

func (c *Controller) updatePod(old, cur any) {
	c.enqueuePodServices(backends.ServicesForPodUpdate(c.services, old.(*corev1.Pod), cur.(*corev1.Pod)))
}

func (c *Controller) deletePod(obj any) {
	if pod := backends.PodFromDelete(obj); pod != nil {
		c.enqueuePodServices(backends.ServicesForPod(c.services, pod))
	}
}

// endpointsChanged sees every change to an Endpoints object. Our own writes
// coming back need nothing; a deletion is repaired when the Service still
// wants endpoints; someone else's write to the Endpoints of a selector Service
// is overwritten. Endpoints without a Service are left alone here: a user may
// create them before the Service they are for.
func (c *Controller) endpointsChanged(obj any, gone bool) {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		tomb, isTomb := obj.(cache.DeletedFinalStateUnknown)
		if !isTomb {
			return
		}
		if ep, ok = tomb.Obj.(*corev1.Endpoints); !ok {
			return
		}
	}
	key := ep.Namespace + "/" + ep.Name
	if !c.writes.Observe(key, ep, gone) {
		return
	}
	if _, err := c.services.Services(ep.Namespace).Get(ep.Name); err != nil {
		return
	}
	c.queue.Add(key)
}
