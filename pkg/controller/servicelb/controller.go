package servicelb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"sync"

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

	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// eventSource is the component upstream's service controller records events as.
const eventSource = "service-controller"

// Options tune the load-balancer controller.
type Options struct {
	// Pool, when set, gives each LoadBalancer Service a dedicated address from
	// this range (skiff server --lb-pool) instead of the nodes' addresses.
	Pool *net.IPNet
	// Workers is how many Services are synced at once (default 2).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Controller publishes LoadBalancer Services' ingress addresses.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	services corelisters.ServiceLister
	nodes    corelisters.NodeLister               // node mode only
	slices   discoverylisters.EndpointSliceLister // node mode only
	synced   []cache.InformerSynced

	pool    *pool // pool mode only
	poolErr error

	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder // set by Run, before any worker starts

	mu      sync.Mutex
	types   map[string]corev1.ServiceType // Service key -> its type at the last sync
	ensured map[string]string             // Service key -> the spec it was last ensured for
	starved map[string]bool               // Services waiting for a pool address to come free
}

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	svcInformer := factory.Core().V1().Services()
	c := &Controller{
		client:   client,
		opts:     opts,
		log:      opts.Logger.With("controller", "servicelb"),
		services: svcInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "service"}),
		types:   map[string]corev1.ServiceType{},
		ensured: map[string]string{},
		starved: map[string]bool{},
	}
	si := svcInformer.Informer()
	c.synced = append(c.synced, si.HasSynced)
	_, _ = si.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateService,
		DeleteFunc: c.enqueue,
	})
	if opts.Pool != nil {
		c.pool, c.poolErr = newPool(opts.Pool)
		return c
	}
	nodeInformer := factory.Core().V1().Nodes()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	c.nodes, c.slices = nodeInformer.Lister(), sliceInformer.Lister()
	ni, ei := nodeInformer.Informer(), sliceInformer.Informer()
	c.synced = append(c.synced, ni.HasSynced, ei.HasSynced)
	_, _ = ni.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.nodeChanged(nil, obj) },
		UpdateFunc: c.nodeChanged,
		DeleteFunc: func(obj any) { c.nodeChanged(obj, nil) },
	})
	_, _ = ei.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.sliceChanged,
		UpdateFunc: func(_, cur any) { c.sliceChanged(cur) },
		DeleteFunc: c.sliceChanged,
	})
	return c
}

// Run publishes ingress addresses until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if c.poolErr != nil {
		return c.poolErr
	}
	recorder, stopEvents := events.Start(ctx, c.client, eventSource)
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	if c.pool != nil {
		c.recoverPool()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers, "pool", c.opts.Pool)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "service", key, "err", err)
	})
	return nil
}

// recoverPool re-reads which pool addresses the Services hold, before any
// sync hands one out: the oldest Service keeps an address two of them show.
func (c *Controller) recoverPool() {
	list, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	slices.SortFunc(list, func(a, b *corev1.Service) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	for _, svc := range list {
		if !wantsLoadBalancer(svc) {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil && c.pool.claim(key, a.Unmap()) {
				break
			}
		}
	}
}

// wantsLoadBalancer reports whether this controller publishes the Service's
// ingress: type LoadBalancer and no loadBalancerClass naming another
// implementation.
func wantsLoadBalancer(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) updateService(old, cur any) {
	o, n := old.(*corev1.Service), cur.(*corev1.Service)
	if o.UID == n.UID && reflect.DeepEqual(o.Spec, n.Spec) &&
		reflect.DeepEqual(o.Status.LoadBalancer, n.Status.LoadBalancer) &&
		(o.DeletionTimestamp == nil) == (n.DeletionTimestamp == nil) {
		return
	}
	c.enqueue(cur)
}

// nodeChanged re-syncs every load balancer when a node starts or stops
// counting (readiness, addresses); heartbeats change nothing here.
func (c *Controller) nodeChanged(old, cur any) {
	var before, after nodeView
	if n := nodeFrom(old); n != nil {
		before = viewOf(n)
	}
	if n := nodeFrom(cur); n != nil {
		after = viewOf(n)
	}
	if before.equal(after) || (!before.eligible && !after.eligible) {
		return
	}
	list, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range list {
		if wantsLoadBalancer(svc) {
			c.queue.Add(svc.Namespace + "/" + svc.Name)
		}
	}
}

func nodeFrom(obj any) *corev1.Node {
	switch o := obj.(type) {
	case *corev1.Node:
		return o
	case cache.DeletedFinalStateUnknown:
		n, _ := o.Obj.(*corev1.Node)
		return n
	}
	return nil
}

// sliceChanged re-syncs a Local-policy load balancer whose endpoints moved.
func (c *Controller) sliceChanged(obj any) {
	var s *discoveryv1.EndpointSlice
	switch o := obj.(type) {
	case *discoveryv1.EndpointSlice:
		s = o
	case cache.DeletedFinalStateUnknown:
		s, _ = o.Obj.(*discoveryv1.EndpointSlice)
	}
	if s == nil || s.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	svc, err := c.services.Services(s.Namespace).Get(s.Labels[discoveryv1.LabelServiceName])
	if err != nil || !wantsLoadBalancer(svc) || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		return
	}
	c.queue.Add(svc.Namespace + "/" + svc.Name)
}

// sync publishes (or withdraws) the Service's ingress addresses.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not ours: drop it
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		c.mu.Lock()
		delete(c.types, key)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	c.noteType(key, svc)
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass != nil {
		c.forget(key)
		return nil // another implementation's
	}
	if !wantsLoadBalancer(svc) {
		return c.withdraw(ctx, key, svc)
	}
	if svc.DeletionTimestamp != nil {
		return nil // keeps its address until it is gone
	}

	spec := ensuredSpec(svc)
	c.mu.Lock()
	first := c.ensured[key] != spec
	c.mu.Unlock()
	if first {
		c.recorder.Event(svc, corev1.EventTypeNormal, "EnsuringLoadBalancer", "Ensuring load balancer")
	}
	ingress, err := c.desiredIngress(key, svc)
	if err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "SyncLoadBalancerFailed",
			"Error syncing load balancer: failed to ensure load balancer: %v", err)
		if errors.Is(err, errPoolExhausted) {
			return nil // retried when an address comes free
		}
		return err
	}
	prev := svc.Status.LoadBalancer.Ingress
	if !sameIngress(prev, ingress) {
		if err := c.writeIngress(ctx, svc, ingress); err != nil {
			return err
		}
		if !first {
			if len(ingress) == 0 {
				c.recorder.Event(svc, corev1.EventTypeWarning, "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
			} else {
				c.recorder.Eventf(svc, corev1.EventTypeNormal, "UpdatedLoadBalancer",
					"Updated LoadBalancer with new IPs: %v -> %v", ingressIPs(prev), ingressIPs(ingress))
			}
		}
	}
	if first {
		if len(ingress) == 0 {
			c.recorder.Event(svc, corev1.EventTypeWarning, "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
		} else {
			c.recorder.Event(svc, corev1.EventTypeNormal, "EnsuredLoadBalancer", "Ensured load balancer")
		}
		c.mu.Lock()
		c.ensured[key] = spec
		c.mu.Unlock()
	}
	return nil
}

// noteType records the type change of a Service that is or was a load
// balancer, as upstream's service controller does.
func (c *Controller) noteType(key string, svc *corev1.Service) {
	c.mu.Lock()
	prev, known := c.types[key]
	c.types[key] = svc.Spec.Type
	c.mu.Unlock()
	lb := corev1.ServiceTypeLoadBalancer
	if known && prev != svc.Spec.Type && (prev == lb || svc.Spec.Type == lb) && svc.Spec.LoadBalancerClass == nil {
		c.recorder.Eventf(svc, corev1.EventTypeNormal, "Type", "%v -> %v", prev, svc.Spec.Type)
	}
}

// desiredIngress is the Service's pool address, or its nodes' addresses.
func (c *Controller) desiredIngress(key string, svc *corev1.Service) ([]corev1.LoadBalancerIngress, error) {
	if c.pool == nil {
		return c.nodeIngress(svc)
	}
	if want := svc.Spec.LoadBalancerIP; want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !c.pool.contains(a.Unmap()) {
			return nil, fmt.Errorf("requested loadBalancerIP %s is not in pool %s", want, c.pool)
		}
		prev, had := c.pool.held(key)
		if !c.pool.claim(key, a.Unmap()) {
			return nil, fmt.Errorf("requested loadBalancerIP %s is in use by another service", want)
		}
		if had && prev != a.Unmap() {
			c.wakeStarved() // it gave up the address it had
		}
		return ingressFor([]string{a.Unmap().String()}), nil
	}
	if _, ok := c.pool.held(key); !ok {
		// A Service that already shows a free pool address keeps it.
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil && c.pool.claim(key, a.Unmap()) {
				break
			}
		}
	}
	// Marked waiting before asking, so a release racing with a failed
	// allocation still wakes this Service.
	c.mu.Lock()
	c.starved[key] = true
	c.mu.Unlock()
	a, err := c.pool.allocate(key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	delete(c.starved, key)
	c.mu.Unlock()
	return ingressFor([]string{a.String()}), nil
}

// withdraw clears the ingress of a Service that is no longer a load balancer
// and frees its pool address.
func (c *Controller) withdraw(ctx context.Context, key string, svc *corev1.Service) error {
	c.forget(key)
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		return nil
	}
	c.recorder.Event(svc, corev1.EventTypeNormal, "DeletingLoadBalancer", "Deleting load balancer")
	if err := c.writeIngress(ctx, svc, nil); err != nil {
		return err
	}
	c.recorder.Event(svc, corev1.EventTypeNormal, "DeletedLoadBalancer", "Deleted load balancer")
	return nil
}

// forget drops what the controller keeps for the Service and frees its pool
// address, waking the Services that wait for one.
func (c *Controller) forget(key string) {
	c.mu.Lock()
	delete(c.ensured, key)
	delete(c.starved, key)
	c.mu.Unlock()
	if c.pool != nil && c.pool.release(key) {
		c.wakeStarved()
	}
}

// wakeStarved re-queues the Services waiting for a pool address.
func (c *Controller) wakeStarved() {
	c.mu.Lock()
	waiting := make([]string, 0, len(c.starved))
	for k := range c.starved {
		waiting = append(waiting, k)
	}
	c.mu.Unlock()
	for _, k := range waiting {
		c.queue.Add(k)
	}
}

func (c *Controller) writeIngress(ctx context.Context, svc *corev1.Service, ingress []corev1.LoadBalancerIngress) error {
	next := svc.DeepCopy()
	next.Status.LoadBalancer.Ingress = ingress
	if _, err := c.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("service %q in namespace %q: updating load balancer status: %w", svc.Name, svc.Namespace, err)
	}
	return nil
}

// ensuredSpec is what of a Service a load balancer is built from: a change
// to it is a new "Ensuring load balancer" round, as upstream's service
// controller sees it.
func ensuredSpec(svc *corev1.Service) string {
	type port struct {
		Name     string
		Protocol corev1.Protocol
		Port     int32
		NodePort int32
	}
	ports := make([]port, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		ports = append(ports, port{p.Name, p.Protocol, p.Port, p.NodePort})
	}
	return fmt.Sprintf("%s|%v|%s|%s|%v|%v|%v|%d", svc.UID, ports, svc.Spec.LoadBalancerIP,
		svc.Spec.ExternalTrafficPolicy, svc.Spec.IPFamilies, svc.Spec.ExternalIPs,
		svc.Spec.LoadBalancerSourceRanges, svc.Spec.HealthCheckNodePort)
}

func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].IP != b[i].IP || a[i].Hostname != b[i].Hostname || len(a[i].Ports) != 0 ||
			!reflect.DeepEqual(a[i].IPMode, b[i].IPMode) {
			return false
		}
	}
	return true
}

func ingressIPs(in []corev1.LoadBalancerIngress) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = x.IP
		if x.IP == "" {
			out[i] = x.Hostname
		}
	}
	return out
}
