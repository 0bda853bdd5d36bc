package pvprotection

import (
	"context"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiffhq/skiff/pkg/api/defaults"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the controller.
type Options struct {
	// Workers is how many volumes are checked at once (default 1).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

// Controller releases volumes being deleted once they are not Bound.
type Controller struct {
	client  kubernetes.Interface
	opts    Options
	log     *slog.Logger
	volumes corelisters.PersistentVolumeLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informer and handlers on factory; the
// caller starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	inf := factory.Core().V1().PersistentVolumes()
	c := &Controller{
		client:  client,
		opts:    opts,
		log:     opts.Logger.With("controller", "pvprotection"),
		volumes: inf.Lister(),
		synced:  inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pvprotection"}),
	}
	// A volume's own events say all: its phase leaves Bound when the binder
	// releases it.
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	})
	return c
}

func (c *Controller) enqueue(obj any) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok && deletionCandidate(pv) {
		c.queue.Add(pv.Name)
	}
}

// Run releases volumes until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("releasing the volume failed; retrying", "volume", key, "err", err)
	})
	return nil
}

func (c *Controller) sync(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !deletionCandidate(pv) || InUse(pv) {
		return nil
	}
	pv = pv.DeepCopy()
	pv.Finalizers = slices.DeleteFunc(pv.Finalizers, func(f string) bool { return f == defaults.PVProtectionFinalizer })
	_, err = c.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		c.log.Info("released volume: not bound", "volume", name)
	}
	return err
}

// InUse reports whether a claim holds pv: as upstream, its phase says so.
func InUse(pv *corev1.PersistentVolume) bool { return pv.Status.Phase == corev1.VolumeBound }

func deletionCandidate(pv *corev1.PersistentVolume) bool {
	return pv.DeletionTimestamp != nil && slices.Contains(pv.Finalizers, defaults.PVProtectionFinalizer)
}
