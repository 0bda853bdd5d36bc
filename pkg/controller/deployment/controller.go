package deployment

import (
	"context"
	"fmt"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

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
	replicaSets cache.Indexer // by ownerIndex
	pods        cache.Indexer // by ownerIndex, only pods a ReplicaSet controls
	synced      []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	writes   *ownWrites
	recorder record.EventRecorder // set by Run, before any worker starts
}

var (
	deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
	replicaSetKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// ownerIndex files ReplicaSets under their controller's UID, or under their
// namespace when they have none (the orphans a Deployment may adopt), and pods
// under the UID of the ReplicaSet that controls them. A sync then reads its own
// objects without scanning every one of their kind.
const ownerIndex = "deployment.skiff/owner"

func ownedKey(uid string) string { return "uid/" + uid }
func orphanKey(ns string) string { return "orphan/" + ns }

func replicaSetOwnerKeys(obj any) ([]string, error) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		return []string{ownedKey(string(ref.UID))}, nil
	}
	return []string{orphanKey(rs.Namespace)}, nil
}

func podOwnerKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil && ref.Kind == replicaSetKind.Kind {
		return []string{ownedKey(string(ref.UID))}, nil
	}
	return nil, nil
}

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
	if err := ri.AddIndexers(cache.Indexers{ownerIndex: replicaSetOwnerKeys}); err != nil {
		// Only possible when the factory was started before New: a wiring bug.
		panic(fmt.Sprintf("deployment: adding the ReplicaSet index: %v", err))
	}
	if err := pi.AddIndexers(cache.Indexers{ownerIndex: podOwnerKeys}); err != nil {
		panic(fmt.Sprintf("deployment: adding the pod index: %v", err))
	}
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
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "deployment-controller"})

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "deployment", key, "err", err)
	})
	return nil
}

// replicaSetsFor are the ReplicaSets a Deployment controls plus the orphans in
// its namespace, from the cache.
func (c *Controller) replicaSetsFor(d *appsv1.Deployment) []*appsv1.ReplicaSet {
	owned, _ := c.replicaSets.ByIndex(ownerIndex, ownedKey(string(d.UID)))
	orphans, _ := c.replicaSets.ByIndex(ownerIndex, orphanKey(d.Namespace))
	out := make([]*appsv1.ReplicaSet, 0, len(owned)+len(orphans))
	for _, list := range [][]any{owned, orphans} {
		for _, obj := range list {
			if rs := obj.(*appsv1.ReplicaSet); rs.Namespace == d.Namespace {
				out = append(out, rs)
			}
		}
	}
	return out
}

// podsOf are the pods a ReplicaSet controls, from the cache.
func (c *Controller) podsOf(rs *appsv1.ReplicaSet) []*corev1.Pod {
	objs, _ := c.pods.ByIndex(ownerIndex, ownedKey(string(rs.UID)))
	out := make([]*corev1.Pod, 0, len(objs))
	for _, obj := range objs {
		out = append(out, obj.(*corev1.Pod))
	}
	return out
}

// isNamespaceTerminating reports a create refused because the namespace is
// going away: every later one will be too, so it is not retried.
func isNamespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}
