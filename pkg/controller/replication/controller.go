package replication

import (
	"context"
	"fmt"
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
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the ReplicationManager.
type Options struct {
	// Workers is how many RCs are synced at once (default 5; 16 or more at scale).
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

// Controller is the ReplicationManager.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	rcs      corelisters.ReplicationControllerLister
	pods     cache.Indexer
	rcSynced cache.InformerSynced
	podSync  cache.InformerSynced

	queue  workqueue.TypedRateLimitingInterface[string]
	expect *expectations
	// firstBatch is where each RC's next slow start of creates begins.
	firstBatch *firstBatches
	recorder   *spamGuard // its recorder is set by Run, before any worker starts
	now        func() time.Time

	batchMu sync.Mutex
	batched map[string]bool // RCs waiting out statusBatch
}

// controllerIndex files each pod under the UID of its controller, or under its
// namespace when it has none, so a sync reads its own pods and the orphans it
// could adopt without scanning every pod.
const controllerIndex = "replication.skiff/controller"

func controllerIndexKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return []string{ownedKey(string(ref.UID))}, nil
	}
	return []string{orphanKey(pod.Namespace)}, nil
}

func ownedKey(uid string) string { return "uid/" + uid }
func orphanKey(ns string) string { return "orphan/" + ns }

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	rcInformer := factory.Core().V1().ReplicationControllers()
	podInformer := factory.Core().V1().Pods()
	c := &Controller{
		client: client,
		opts:   opts,
		log:    opts.Logger.With("controller", "replication"),
		rcs:    rcInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicationmanager"}),
		expect:     newExpectations(time.Now),
		firstBatch: &firstBatches{m: map[string]int{}},
		recorder:   newSpamGuard(nil, clock.RealClock{}),
		now:        time.Now,
		batched:    map[string]bool{},
	}
	pi := podInformer.Informer()
	if err := pi.AddIndexers(cache.Indexers{controllerIndex: controllerIndexKeys}); err != nil {
		// Only possible when the factory was started before New: a wiring bug.
		panic(fmt.Sprintf("replication: adding the pod index: %v", err))
	}
	c.pods = pi.GetIndexer()
	c.podSync = pi.HasSynced
	ri := rcInformer.Informer()
	c.rcSynced = ri.HasSynced
	_, _ = ri.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj) },
		UpdateFunc: c.updateRC,
		DeleteFunc: c.deleteRC,
	})
	_, _ = pi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run syncs RCs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c.recorder.EventRecorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replication-controller"})

	if !cache.WaitForCacheSync(ctx.Done(), c.rcSynced, c.podSync) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "rc", key, "err", err)
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

// statusBatch is how long a pod change that only moves an RC's status waits
// for others to join it: a sync counts every pod of its RC, and in a storm of
// thousands of pods going Running one sync per pod event is quadratic (upstream's
// Job controller batches its pod events the same way, for a second). A change
// that asks for pods to be created or deleted is not held back.
const statusBatch = 100 * time.Millisecond

// enqueueBatched queues an RC once statusBatch has passed, together with every
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

// enqueueObserved queues an RC after one of its pods was seen created or
// deleted: at once if that settles what it was waiting for, else with the batch.
func (c *Controller) enqueueObserved(key string) {
	if c.expect.satisfied(key) {
		c.queue.Add(key)
		return
	}
	c.enqueueBatched(key)
}

func (c *Controller) enqueueAfter(rc *corev1.ReplicationController, d time.Duration) {
	key, err := cache.MetaNamespaceKeyFunc(rc)
	if err != nil {
		return
	}
	c.queue.AddAfter(key, d)
}

func (c *Controller) updateRC(old, cur any) {
	o, n := old.(*corev1.ReplicationController), cur.(*corev1.ReplicationController)
	if o.UID != n.UID {
		// Deleted and recreated under the same name between two events.
		c.deleteRC(cache.DeletedFinalStateUnknown{Key: mustKey(o), Obj: o})
	}
	c.enqueue(n)
}

func (c *Controller) deleteRC(obj any) {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if rc, ok = tomb.Obj.(*corev1.ReplicationController); !ok {
			return
		}
	}
	key := mustKey(rc)
	c.expect.forget(key)
	c.firstBatch.forget(key)
	c.recorder.forget(rc.UID)
	c.queue.Add(key)
}

func mustKey(obj any) string {
	key, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key
}

// resolveControllerRef returns the RC a controller reference names, if it is
// still the same object (same UID).
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *corev1.ReplicationController {
	if ref.Kind != "ReplicationController" || ref.APIVersion != "v1" {
		return nil
	}
	rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name)
	if err != nil || rc.UID != ref.UID {
		return nil
	}
	return rc
}

// matchingRCs are the RCs in a pod's namespace whose selector matches it: the
// candidates to adopt an orphan.
func (c *Controller) matchingRCs(pod *corev1.Pod) []*corev1.ReplicationController {
	if len(pod.Labels) == 0 {
		return nil
	}
	list, err := c.rcs.ReplicationControllers(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*corev1.ReplicationController
	for _, rc := range list {
		if len(rc.Spec.Selector) == 0 {
			continue
		}
		if labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			out = append(out, rc)
		}
	}
	return out
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already on its way out (a restart): it must
		// not count as one of our creations.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		rc := c.resolveControllerRef(pod.Namespace, ref)
		if rc == nil {
			return
		}
		key := mustKey(rc)
		c.expect.creationObserved(key)
		c.enqueueObserved(key)
		return
	}
	for _, rc := range c.matchingRCs(pod) {
		c.enqueue(rc)
	}
}

func (c *Controller) updatePod(old, cur any) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if o.ResourceVersion == n.ResourceVersion {
		return
	}
	labelsChanged := !reflect.DeepEqual(o.Labels, n.Labels)
	if n.DeletionTimestamp != nil {
		// A pod being deleted counts as gone; if its labels changed too, the RC
		// that matched the old labels must hear about it as well.
		c.deletePod(n)
		if labelsChanged {
			c.deletePod(o)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOf(o), metav1.GetControllerOf(n)
	refChanged := !reflect.DeepEqual(oldRef, curRef)
	if refChanged && oldRef != nil {
		if rc := c.resolveControllerRef(o.Namespace, oldRef); rc != nil {
			c.enqueue(rc)
		}
	}
	if curRef != nil {
		rc := c.resolveControllerRef(n.Namespace, curRef)
		if rc == nil {
			return
		}
		if key := mustKey(rc); refChanged || labelsChanged || podActive(o) != podActive(n) {
			c.queue.Add(key) // it may have to be replaced, or released
		} else {
			c.enqueueBatched(key)
		}
		// A pod that just became ready becomes available minReadySeconds later.
		if rc.Spec.MinReadySeconds > 0 && !podReady(o) && podReady(n) {
			c.enqueueAfter(rc, time.Duration(rc.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rc := range c.matchingRCs(n) {
			c.enqueue(rc)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return // nobody counts orphans
	}
	rc := c.resolveControllerRef(pod.Namespace, ref)
	if rc == nil {
		return
	}
	key := mustKey(rc)
	c.expect.deletionObserved(key, mustKey(pod))
	c.enqueueObserved(key)
}

// isNamespaceTerminating reports a create refused because the namespace is going away.
func isNamespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}
