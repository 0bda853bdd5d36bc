package replication

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller"
	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/expectations"
	"github.com/skiffhq/skiff/pkg/controller/owners"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune a controller of either kind.
type Options struct {
	// Workers is how many sets are synced at once (default 5; 16 or more at scale).
	Workers int
	// BurstReplicas caps the pods created or deleted by one sync (default 500).
	BurstReplicas int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 5
	}
	if o.BurstReplicas <= 0 {
		o.BurstReplicas = 500
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Controller is the loop that runs one kind of set: the ReplicationManager
// (New) or the ReplicaSet controller (NewReplicaSets).
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	kind   kind
	info   kindInfo

	pods      cache.Indexer
	patchPod  func(context.Context, *corev1.Pod, []byte) error // adopts and releases
	setSynced cache.InformerSynced
	podSync   cache.InformerSynced

	queue  workqueue.TypedRateLimitingInterface[string]
	expect *expectations.Expectations
	// firstBatch is where each set's next slow start of creates begins.
	firstBatch *firstBatches
	recorder   *spamGuard // its recorder is set by Run, before any worker starts
	now        func() time.Time

	batchMu sync.Mutex
	batched map[string]bool // sets waiting out statusBatch
}

// newController registers a controller of one kind of set, whose informer is
// sets, and its pod handlers, on factory.
func newController(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options,
	sets cache.SharedIndexInformer, k kind, info kindInfo) *Controller {
	opts.setDefaults()
	c := &Controller{
		client:   client,
		patchPod: claim.PodPatcher(client),
		opts:     opts,
		log:      opts.Logger.With("controller", info.name),
		kind:     k,
		info:     info,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: info.queue}),
		expect:     expectations.New(time.Now),
		firstBatch: &firstBatches{m: map[string]int{}},
		recorder:   newSpamGuard(nil, clock.RealClock{}),
		now:        time.Now,
		batched:    map[string]bool{},
	}
	pi := factory.Core().V1().Pods().Informer()
	owners.AddIndex(pi)
	c.pods = pi.GetIndexer()
	c.podSync = pi.HasSynced
	c.setSynced = sets.HasSynced
	_, _ = sets.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj) },
		UpdateFunc: c.updateSet,
		DeleteFunc: c.deleteSet,
	})
	_, _ = pi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run syncs sets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, c.info.component)
	defer stopEvents()
	c.recorder.EventRecorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.setSynced, c.podSync) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", c.info.logKey, key, "err", err)
	})
	return nil
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

// statusBatch is how long a pod change that only moves a set's status waits
// for others to join it: a sync counts every pod of its set, and in a storm of
// thousands of pods going Running one sync per pod event is quadratic (upstream's
// Job controller batches its pod events the same way, for a second). A change
// that asks for pods to be created or deleted is not held back.
const statusBatch = 100 * time.Millisecond

// enqueueBatched queues a set once statusBatch has passed, together with every
// other change that comes meanwhile. (Not with the queue's AddAfter: it keeps
// one deadline per key, the earliest, and would swallow a later one such as
// minReadySeconds'.)
func (c *Controller) enqueueBatched(key string) {
	c.batchMu.Lock()
	defer c.batchMu.Unlock()
	if c.batched[key] {
		return
	}
	c.batched[key] = true
	time.AfterFunc(statusBatch, func() {
		c.batchMu.Lock()
		delete(c.batched, key)
		c.batchMu.Unlock()
		c.queue.Add(key)
	})
}

// enqueueObserved queues a set after one of its pods was seen created or
// deleted: at once if that settles what it was waiting for, else with the batch.
func (c *Controller) enqueueObserved(key string) {
	if c.expect.Satisfied(key) {
		c.queue.Add(key)
		return
	}
	c.enqueueBatched(key)
}

func (c *Controller) updateSet(old, cur any) {
	o, ok := c.kind.of(old)
	n, ok2 := c.kind.of(cur)
	if !ok || !ok2 {
		return
	}
	if o.meta().UID != n.meta().UID {
		// Deleted and recreated under the same name between two events.
		c.deleteSet(cache.DeletedFinalStateUnknown{Key: keyOf(o), Obj: old})
	}
	c.queue.Add(keyOf(n))
}

func (c *Controller) deleteSet(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := c.kind.of(obj)
	if !ok {
		return
	}
	key := keyOf(s)
	c.expect.Forget(key)
	c.firstBatch.forget(key)
	c.recorder.forget(s.meta().UID)
	c.queue.Add(key)
}

func mustKey(obj any) string {
	key, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key
}

// resolveControllerRef returns the set a controller reference names, if it is
// of this kind and still the same object (same UID).
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) set {
	if !refersTo(ref, c.info.gvk) {
		return nil
	}
	s, err := c.kind.get(ns, ref.Name)
	if err != nil || s.meta().UID != ref.UID {
		return nil
	}
	return s
}

// enqueueMatching queues the sets in a pod's namespace whose selector matches
// it: the candidates to adopt an orphan.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	if len(pod.Labels) == 0 {
		return
	}
	for s := range c.kind.list(pod.Namespace) {
		if sel := s.selector(); sel != nil && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(keyOf(s))
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already on its way out (a restart): it must
		// not count as one of our creations.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		s := c.resolveControllerRef(pod.Namespace, ref)
		if s == nil {
			return
		}
		key := keyOf(s)
		c.expect.CreationObserved(key)
		c.enqueueObserved(key)
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(old, cur any) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if o.ResourceVersion == n.ResourceVersion {
		return
	}
	labelsChanged := !reflect.DeepEqual(o.Labels, n.Labels)
	if n.DeletionTimestamp != nil {
		// A pod being deleted counts as gone; if its labels changed too, the set
		// that matched the old labels must hear about it as well.
		c.deletePod(n)
		if labelsChanged {
			c.deletePod(o)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(n)
	refChanged := !reflect.DeepEqual(oldRef, curRef)
	if refChanged && oldRef != nil {
		if s := c.resolveControllerRef(o.Namespace, oldRef); s != nil {
			c.queue.Add(keyOf(s))
		}
	}
	if curRef != nil {
		s := c.resolveControllerRef(n.Namespace, curRef)
		if s == nil {
			return
		}
		key := keyOf(s)
		if refChanged || labelsChanged || podActive(o) != podActive(n) {
			c.queue.Add(key) // it may have to be replaced, or released
		} else {
			c.enqueueBatched(key)
		}
		// A pod that just became ready becomes available minReadySeconds later.
		if mrs := s.minReadySeconds(); mrs > 0 && !podReady(o) && podReady(n) {
			c.queue.AddAfter(key, time.Duration(mrs)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		c.enqueueMatching(n)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return // nobody counts orphans
	}
	s := c.resolveControllerRef(pod.Namespace, ref)
	if s == nil {
		return
	}
	key := keyOf(s)
	c.expect.DeletionObserved(key, mustKey(pod))
	c.enqueueObserved(key)
}

// isNamespaceTerminating reports a create refused because the namespace is going away.
func isNamespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}
