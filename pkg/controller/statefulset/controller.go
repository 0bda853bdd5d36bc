package statefulset

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/kubectl/pkg/util/podutils"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller"
	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/history"
	"github.com/skiffhq/skiff/pkg/controller/owners"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the StatefulSet controller.
type Options struct {
	// Workers is how many StatefulSets are synced at once (default 5, as
	// upstream's --concurrent-statefulset-syncs).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock is read for pod availability (minReadySeconds) and drives the
	// workqueue's delays (default: the real clock).
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

// Controller is the StatefulSet controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker

	sets    appslisters.StatefulSetLister
	pods    corelisters.PodLister
	podsIdx cache.Indexer // by owners.Index
	// patchPod adopts and releases.
	patchPod func(context.Context, *corev1.Pod, []byte) error
	history  *history.Client
	synced   []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	writes   *podWrites
	recorder record.EventRecorder // set by Run, before any worker starts
}

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	setInformer := factory.Apps().V1().StatefulSets()
	podInformer := factory.Core().V1().Pods()
	revInformer := factory.Apps().V1().ControllerRevisions()
	c := &Controller{
		client:   client,
		opts:     opts,
		log:      opts.Logger.With("controller", "statefulset"),
		clock:    opts.Clock,
		sets:     setInformer.Lister(),
		pods:     podInformer.Lister(),
		history:  history.NewClient(client, revInformer.Lister()),
		patchPod: claim.PodPatcher(client),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset", Clock: opts.Clock}),
		writes: newPodWrites(opts.Clock.Now),
	}
	si, pi, ri := setInformer.Informer(), podInformer.Informer(), revInformer.Informer()
	owners.AddIndex(pi)
	c.podsIdx = pi.GetIndexer()
	c.synced = []cache.InformerSynced{si.HasSynced, pi.HasSynced, ri.HasSynced}
	_, _ = si.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	_, _ = pi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	})
	return c
}

// Run syncs StatefulSets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, "statefulset-controller")
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "statefulset", key, "err", err)
	})
	return nil
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

func (c *Controller) enqueueAfter(set *appsv1.StatefulSet, d time.Duration) {
	c.queue.AddAfter(set.Namespace+"/"+set.Name, d)
}

// setFor is the StatefulSet a controller reference names, if it is the one in
// the cache (same UID).
func (c *Controller) setFor(ns string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref == nil || ref.Kind != statefulSetKind.Kind {
		return nil
	}
	set, err := c.sets.StatefulSets(ns).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return nil
	}
	return set
}

// setsMatching are the StatefulSets whose selector matches an orphan pod.
func (c *Controller) setsMatching(pod *corev1.Pod) []*appsv1.StatefulSet {
	all, err := c.sets.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.StatefulSet
	for _, set := range all {
		sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, set)
	}
	return out
}

func (c *Controller) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	if set := c.setFor(pod.Namespace, metav1.GetControllerOfNoCopy(pod)); set != nil {
		c.enqueue(set)
		return
	}
	if metav1.GetControllerOfNoCopy(pod) == nil {
		for _, set := range c.setsMatching(pod) {
			c.enqueue(set)
		}
	}
}

func (c *Controller) podUpdated(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(oldPod), metav1.GetControllerOfNoCopy(curPod)
	if !reflect.DeepEqual(oldRef, curRef) {
		if set := c.setFor(oldPod.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if curRef != nil {
		set := c.setFor(curPod.Namespace, curRef)
		if set == nil {
			return
		}
		c.enqueue(set)
		if set.Spec.MinReadySeconds > 0 && !podutils.IsPodReady(oldPod) && podutils.IsPodReady(curPod) {
			// Look again once the pod has been ready long enough to count as available.
			c.enqueueAfter(set, time.Duration(set.Spec.MinReadySeconds)*time.Second)
		}
		return
	}
	if !reflect.DeepEqual(oldPod.Labels, curPod.Labels) || oldRef != nil {
		for _, set := range c.setsMatching(curPod) {
			c.enqueue(set)
		}
	}
}

func (c *Controller) podDeleted(obj any) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	if set := c.setFor(pod.Namespace, metav1.GetControllerOfNoCopy(pod)); set != nil {
		c.enqueue(set)
	}
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// isNamespaceTerminating reports a create refused because the namespace is
// going away: every later one will be too.
func isNamespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}
