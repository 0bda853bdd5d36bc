package ipaddress

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the controller.
type Options struct {
	// Workers is how many addresses are synced at once (default 2).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

// clusterIPIndex indexes Services by the addresses they hold.
const clusterIPIndex = "ipaddress/clusterIP"

// Controller keeps one IPAddress per ClusterIP. Its keys are addresses, in
// the form IPAddresses are named by.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	services  cache.Indexer
	addresses networkinglisters.IPAddressLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers, index and handlers on factory;
// the caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	si := factory.Core().V1().Services().Informer()
	ipInf := factory.Networking().V1().IPAddresses()
	if err := si.AddIndexers(cache.Indexers{clusterIPIndex: indexClusterIPs}); err != nil {
		// Only possible when the factory was started before New: a wiring bug.
		panic(fmt.Sprintf("ipaddress: adding the Service index: %v", err))
	}
	c := &Controller{
		client:    client,
		opts:      opts,
		log:       opts.Logger.With("controller", "ipaddress"),
		services:  si.GetIndexer(),
		addresses: ipInf.Lister(),
		synced:    []cache.InformerSynced{si.HasSynced, ipInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ipaddress"}),
	}
	_, _ = si.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.serviceChanged,
		// Both: an ExternalName Service turning ClusterIP gains an address,
		// and the other way round lets one go.
		UpdateFunc: func(old, cur any) { c.serviceChanged(old); c.serviceChanged(cur) },
		DeleteFunc: c.serviceChanged,
	})
	_, _ = ipInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addressChanged,
		UpdateFunc: func(_, cur any) { c.addressChanged(cur) },
		DeleteFunc: c.addressChanged,
	})
	return c
}

// Run keeps the IPAddresses until ctx ends. The informers' initial lists
// queue every address there is, which is the first full repair.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(ip string, err error) {
		c.log.Info("keeping the IPAddress of a ClusterIP failed; retrying", "address", ip, "err", err)
	})
	return nil
}

func (c *Controller) serviceChanged(obj any) {
	if svc, ok := controller.Deleted[*corev1.Service](obj); ok {
		for _, ip := range clusterIPs(svc) {
			c.queue.Add(ip)
		}
	}
}

func (c *Controller) addressChanged(obj any) {
	if ip, ok := controller.Deleted[*networkingv1.IPAddress](obj); ok {
		c.queue.Add(ip.Name)
	}
}

func indexClusterIPs(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	return clusterIPs(svc), nil
}
