package disruption

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// DeletionTimeout is how long a pod the eviction subresource approved stays
// counted as disrupted (not healthy) while it has not been deleted; after it
// the controller assumes the deletion will not come.
const DeletionTimeout = 2 * time.Minute

// Options tune the disruption controller.
type Options struct {
	// Workers is how many budgets are synced at once (default 2).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock is read for condition times and the disruptedPods timeout, and
	// drives the workqueue's delays (default: the real clock).
	Clock clock.WithTicker
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Controller is the disruption controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker

	pdbs         policylisters.PodDisruptionBudgetLister
	pods         corelisters.PodLister
	rcs          corelisters.ReplicationControllerLister
	replicaSets  appslisters.ReplicaSetLister
	deployments  appslisters.DeploymentLister
	statefulSets appslisters.StatefulSetLister
	synced       []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	stale    workqueue.TypedRateLimitingInterface[string] // pods whose DisruptionTarget may be stale
	recorder record.EventRecorder                         // set by Run, before any worker starts
}

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	pdbInformer := factory.Policy().V1().PodDisruptionBudgets()
	podInformer := factory.Core().V1().Pods()
	rcInformer := factory.Core().V1().ReplicationControllers()
	rsInformer := factory.Apps().V1().ReplicaSets()
	dInformer := factory.Apps().V1().Deployments()
	ssInformer := factory.Apps().V1().StatefulSets()
	c := &Controller{
		client:       client,
		opts:         opts,
		log:          opts.Logger.With("controller", "disruption"),
		clock:        opts.Clock,
		pdbs:         pdbInformer.Lister(),
		pods:         podInformer.Lister(),
		rcs:          rcInformer.Lister(),
		replicaSets:  rsInformer.Lister(),
		deployments:  dInformer.Lister(),
		statefulSets: ssInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption", Clock: opts.Clock}),
		stale: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disruption-stale-pods", Clock: opts.Clock}),
		recorder: &record.FakeRecorder{}, // replaced by Run
	}
	for _, inf := range []cache.SharedIndexInformer{
		pdbInformer.Informer(), podInformer.Informer(), rcInformer.Informer(),
		rsInformer.Informer(), dInformer.Informer(), ssInformer.Informer(),
	} {
		c.synced = append(c.synced, inf.HasSynced)
	}
	_, _ = pdbInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	_, _ = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podChanged,
	})
	return c
}

// Run syncs budgets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	defer c.stale.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, "controllermanager")
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	staleDone := make(chan struct{})
	go func() {
		defer close(staleDone)
		workers.Run(ctx, c.stale, 1, c.syncStalePod, func(key string, err error) {
			c.log.Info("clearing a stale DisruptionTarget failed; retrying", "pod", key, "err", err)
		})
	}()
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "poddisruptionbudget", key, "err", err)
	})
	<-staleDone
	return nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *Controller) podChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		c.enqueueBudgetsOf(pod)
		c.checkStale(pod)
	}
}

func (c *Controller) podUpdated(old, cur any) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if o.ResourceVersion == n.ResourceVersion {
		return // a resync
	}
	c.enqueueBudgetsOf(n)
	if !labels.Equals(o.Labels, n.Labels) {
		c.enqueueBudgetsOf(o) // the budgets it left
	}
	c.checkStale(n)
}

// enqueueBudgetsOf queues every budget in the pod's namespace whose selector
// matches it. Upstream queues one, arbitrarily, when several match; every one
// of them counts the pod, so all are queued here.
func (c *Controller) enqueueBudgetsOf(pod *corev1.Pod) {
	for _, pdb := range c.budgetsOf(pod) {
		c.enqueue(pdb)
	}
}

func (c *Controller) budgetsOf(pod *corev1.Pod) []*policyv1.PodDisruptionBudget {
	list, err := c.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*policyv1.PodDisruptionBudget
	set := labels.Set(pod.Labels)
	for _, pdb := range list {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(set) {
			continue
		}
		out = append(out, pdb)
	}
	return out
}
