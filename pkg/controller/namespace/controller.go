package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the namespace controller.
type Options struct {
	// Workers is how many namespaces are emptied at once (default 10, as upstream).
	Workers int
	// Discovery lists the served resources (default: the client's).
	Discovery discovery.DiscoveryInterface
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

// Controller is the namespace lifecycle controller.
type Controller struct {
	client    kubernetes.Interface
	dyn       dynamic.Interface
	discovery discovery.DiscoveryInterface
	opts      Options
	log       *slog.Logger

	namespaces corelisters.NamespaceLister
	synced     cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	now        func() time.Time
}

// New registers the controller's informer and handlers on factory; the caller
// starts the factory, then calls Run. Content is deleted through dyn.
func New(client kubernetes.Interface, dyn dynamic.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.Discovery == nil {
		opts.Discovery = client.Discovery()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	inf := factory.Core().V1().Namespaces()
	c := &Controller{
		client:     client,
		dyn:        dyn,
		discovery:  opts.Discovery,
		opts:       opts,
		log:        opts.Logger.With("controller", "namespace"),
		namespaces: inf.Lister(),
		synced:     inf.Informer().HasSynced,
		// Content that remains (pods finishing their grace period, objects with
		// finalizers) is looked at again soon, then less and less often.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 5*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"}),
		now: time.Now,
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	})
	return c
}

func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}

// Run empties and finalizes terminating namespaces until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		if errors.Is(err, errContentRemains) {
			c.log.Debug("content remains", "namespace", key, "detail", err)
			return
		}
		c.log.Info("deleting namespace content failed; retrying", "namespace", key, "err", err)
	})
	return nil
}

// errContentRemains: the namespace is not empty yet (nothing went wrong).
var errContentRemains = errors.New("content remains")

func (c *Controller) sync(ctx context.Context, name string) error {
	if cached, err := c.namespaces.Get(name); apierrors.IsNotFound(err) || (err == nil && cached.DeletionTimestamp == nil) {
		return nil
	}
	// The cache may be behind: decide on the namespace as it is now.
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		ns.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	ns, err = c.deleteContent(ctx, ns)
	if err != nil {
		return err
	}
	return c.finalize(ctx, ns)
}

// finalize takes the "kubernetes" finalizer off spec.finalizers; the API server
// removes the namespace once no finalizer is left.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	api := c.client.CoreV1().Namespaces()
	for attempt := 0; ; attempt++ {
		next := ns.DeepCopy()
		next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
		_, err := api.Finalize(ctx, next, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			c.log.Debug("finalized", "namespace", ns.Name)
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= 4 {
			return fmt.Errorf("finalizing namespace %q: %w", ns.Name, err)
		}
		if ns, err = api.Get(ctx, ns.Name, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
			return nil
		}
	}
}
