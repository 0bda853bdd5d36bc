package endpointslice

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// ControllerName is the endpointslice.kubernetes.io/managed-by value of the
// slices this controller owns.
const ControllerName = "endpointslice-controller.k8s.io"

// eventSource is the component upstream's controller records events as.
const eventSource = "endpoint-slice-controller"

// Options tune the EndpointSlice controller.
type Options struct {
	// Workers is how many Services are synced at once (default 5, upstream's
	// --concurrent-service-endpoint-syncs).
	Workers int
	// MaxEndpointsPerSlice caps each slice (default 100, upstream's
	// --max-endpoints-per-slice).
	MaxEndpointsPerSlice int
	// BatchPeriod delays the sync a pod change triggers so that a burst of
	// changes becomes fewer writes (default 0, upstream's
	// --endpointslice-updates-batch-period).
	BatchPeriod time.Duration
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 5
	}
	if o.MaxEndpointsPerSlice <= 0 {
		o.MaxEndpointsPerSlice = 100
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Controller keeps each selector Service's EndpointSlices.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	services corelisters.ServiceLister
	pods     corelisters.PodLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	triggers *backends.TriggerTimes
	writes   *backends.Writes
	recorder record.EventRecorder // set by Run, before any worker starts
}

// errStale says the slice informer has not caught up with our last write yet.
var errStale = errors.New("EndpointSlice informer cache is older than our last write")

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	svcInformer := factory.Core().V1().Services()
	podInformer := factory.Core().V1().Pods()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	c := &Controller{
		client:   client,
		opts:     opts,
		log:      opts.Logger.With("controller", "endpointslice"),
		services: svcInformer.Lister(),
		pods:     podInformer.Lister(),
		slices:   sliceInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice"}),
		triggers: backends.NewTriggerTimes(),
		writes:   backends.NewWrites(),
	}
	si, pi, ei := svcInformer.Informer(), podInformer.Informer(), sliceInformer.Informer()
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
		AddFunc:    func(obj any) { c.sliceChanged(nil, obj, false) },
		UpdateFunc: func(old, cur any) { c.sliceChanged(old, cur, false) },
		DeleteFunc: func(obj any) { c.sliceChanged(nil, obj, true) },
	})
	return c
}

// Run syncs EndpointSlices until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, eventSource)
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
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

// sync makes the slices of the Service named key list its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not ours: drop it
	}
	existing, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector removes them too (they are controlled by the
		// Service); deleting here does not depend on it running.
		c.triggers.Forget(key)
		c.writes.Forget(key)
		return c.deleteAll(ctx, key, existing)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || !backends.HasSelector(svc) {
		// Its endpoints, if any, are the user's (and their mirror's); slices
		// we made while it had a selector would route to the wrong pods.
		return c.deleteAll(ctx, key, existing)
	}
	var cached []metav1.Object
	for _, s := range existing {
		cached = append(cached, s)
	}
	if c.writes.Stale(key, cached) {
		return errStale
	}
	pods, err := c.pods.Pods(ns).List(backends.SelectorOf(svc))
	if err != nil {
		return err
	}
	trigger := c.triggers.Compute(key, svc, pods)
	p := c.planService(svc, pods, existing)
	if err := c.apply(ctx, key, svc, p, trigger); err != nil {
		if ctx.Err() == nil {
			c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
				"Error updating Endpoint Slices for Service %s/%s: %v", ns, name, err)
		}
		return err
	}
	return nil
}

// managedSlices are the live slices this controller made for the Service.
// Ones already being deleted are left to finish.
func (c *Controller) managedSlices(ns, name string) ([]*discoveryv1.EndpointSlice, error) {
	list, err := c.slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}))
	if err != nil {
		return nil, err
	}
	out := list[:0:0]
	for _, s := range list {
		if s.DeletionTimestamp == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func (c *Controller) deleteAll(ctx context.Context, key string, existing []*discoveryv1.EndpointSlice) error {
	return c.sliceWriter().DeleteAll(ctx, key, existing)
}

func (c *Controller) sliceWriter() backends.SliceWriter {
	return backends.SliceWriter{Client: c.client, Writes: c.writes}
}

func (c *Controller) enqueue(obj any) {
	if key, ok := backends.ServiceKey(obj); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) updateService(old, cur any) {
	o, n := old.(*corev1.Service), cur.(*corev1.Service)
	// Status writes (the load balancer's) change nothing the slices show.
	if o.UID == n.UID && reflect.DeepEqual(o.Spec, n.Spec) && reflect.DeepEqual(o.Labels, n.Labels) &&
		(o.DeletionTimestamp == nil) == (n.DeletionTimestamp == nil) {
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

// sliceChanged sees every change to an EndpointSlice. Ours coming back need
// nothing; anyone else's change to (or deletion of) a slice we manage gets the
// Service re-synced, as does a slice that stopped being ours.
func (c *Controller) sliceChanged(old, obj any, gone bool) {
	s := sliceFrom(obj)
	if s == nil {
		return
	}
	if prev := sliceFrom(old); prev != nil && managed(prev) && !managed(s) {
		c.queue.Add(s.Namespace + "/" + prev.Labels[discoveryv1.LabelServiceName])
		return
	}
	if !managed(s) {
		return
	}
	key := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
	if c.writes.Observe(key, s, gone) {
		c.queue.Add(key)
	}
}

func sliceFrom(obj any) *discoveryv1.EndpointSlice {
	switch o := obj.(type) {
	case *discoveryv1.EndpointSlice:
		return o
	case cache.DeletedFinalStateUnknown:
		s, _ := o.Obj.(*discoveryv1.EndpointSlice)
		return s
	}
	return nil
}

func managed(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == ControllerName && s.Labels[discoveryv1.LabelServiceName] != ""
}
