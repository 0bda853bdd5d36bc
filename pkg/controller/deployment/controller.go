package deployment

import (
	"context"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/owners"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the Deployment controller.
type Options struct {
	// Workers is how many Deployments are synced at once (default 5, as upstream's
	// --concurrent-deployment-syncs).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock is read for condition times and the progress deadline, and drives
	// the workqueue's delays (default: the real clock). Tests pass a fake one.
	Clock clock.WithTicker
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Controller is the Deployment controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker

	deployments appslisters.DeploymentLister
	rsLister    appslisters.ReplicaSetLister
	replicaSets cache.Indexer // by owners.Index
	pods        cache.Indexer // by owners.Index
	synced      []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	writes   *ownWrites
	recorder record.EventRecorder // set by Run, before any worker starts
}

var (
	deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
	replicaSetKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	dInformer := factory.Apps().V1().Deployments()
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	c := &Controller{
		client:      client,
		opts:        opts,
		log:         opts.Logger.With("controller", "deployment"),
		clock:       opts.Clock,
		deployments: dInformer.Lister(),
		rsLister:    rsInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment", Clock: opts.Clock}),
		writes: newOwnWrites(opts.Clock.Now),
	}
	di, ri, pi := dInformer.Informer(), rsInformer.Informer(), podInformer.Informer()
	owners.AddIndex(ri)
	owners.AddIndex(pi)
	c.replicaSets, c.pods = ri.GetIndexer(), pi.GetIndexer()
	c.synced = []cache.InformerSynced{di.HasSynced, ri.HasSynced, pi.HasSynced}
	_, _ = di.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addDeployment,
		UpdateFunc: func(_, cur any) { c.addDeployment(cur) },
		DeleteFunc: c.deleteDeployment,
	})
	_, _ = ri.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addReplicaSet,
		UpdateFunc: c.updateReplicaSet,
		DeleteFunc: c.deleteReplicaSet,
	})
	// Only a Recreate rollout looks at pods, and only to see the old ones gone.
	_, _ = pi.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod})
	return c
}

// Run syncs Deployments until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, "deployment-controller")
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "deployment", key, "err", err)
	})
	return nil
}

// podsOf are the pods a ReplicaSet controls, from the cache.
func (c *Controller) podsOf(rs *appsv1.ReplicaSet) []*corev1.Pod {
	return owners.ControlledBy[*corev1.Pod](c.pods, rs)
}

// isNamespaceTerminating reports a create refused because the namespace is
// going away: every later one will be too, so it is not retried.
func isNamespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}
