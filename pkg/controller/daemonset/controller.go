package daemonset

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/expectations"
	"github.com/skiffhq/skiff/pkg/controller/history"
	"github.com/skiffhq/skiff/pkg/controller/owners"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the DaemonSet controller.
type Options struct {
	// Workers is how many DaemonSets are synced at once (default 2, as
	// upstream's --concurrent-daemonset-syncs).
	Workers int
	// BurstReplicas caps the pods created, and those deleted, by one sync
	// (default 250, as upstream).
	BurstReplicas int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock is read for pod availability and the failed-pod back-off, and
	// drives the workqueue's delays (default: the real clock).
	Clock clock.WithTicker
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.BurstReplicas <= 0 {
		o.BurstReplicas = 250
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}

// Controller is the DaemonSet controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker

	daemonSets appslisters.DaemonSetLister
	nodes      corelisters.NodeLister
	pods       cache.Indexer                                    // by owners.Index and nodeIndex
	patchPod   func(context.Context, *corev1.Pod, []byte) error // adopts and releases
	revisions  *history.Client
	synced     []cache.InformerSynced

	queue  workqueue.TypedRateLimitingInterface[string]
	expect *expectations.Expectations
	// failedBackoff spaces out the replacement of a node's failed daemon pod,
	// which a kubelet that rejects it would otherwise make a hot loop.
	failedBackoff *flowcontrol.Backoff
	recorder      record.EventRecorder // set by Run, before any worker starts

	batchMu sync.Mutex
	batched map[string]bool // DaemonSets waiting out statusBatch
}

var (
	daemonSetKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")
)

// Labels every daemon pod carries: the hash of its revision and, for old
// clients, the template generation.
const (
	hashLabel = appsv1.DefaultDaemonSetUniqueLabelKey // controller-revision-hash

	generationLabel = "pod-template-generation"
)

// nodeIndex files daemon pods under the node they are for (bound or not yet),
// so a node event looks at its own pods only.
const nodeIndex = "daemonset.skiff/node"

func podNodeKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref == nil || ref.Kind != daemonSetKind.Kind {
		return nil, nil
	}
	if node := targetNode(pod); node != "" {
		return []string{node}, nil
	}
	return nil, nil
}

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	dsInformer := factory.Apps().V1().DaemonSets()
	revInformer := factory.Apps().V1().ControllerRevisions()
	nodeInformer := factory.Core().V1().Nodes()
	podInformer := factory.Core().V1().Pods()
	c := &Controller{
		client:     client,
		opts:       opts,
		log:        opts.Logger,
		clock:      opts.Clock,
		daemonSets: dsInformer.Lister(),
		nodes:      nodeInformer.Lister(),
		revisions:  history.NewClient(client, revInformer.Lister()),
		patchPod:   claim.PodPatcher(client),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset", Clock: opts.Clock}),
		expect:        expectations.New(opts.Clock.Now),
		failedBackoff: flowcontrol.NewBackOffWithJitter(time.Second, 15*time.Minute, 0),
		batched:       map[string]bool{},
	}
	c.failedBackoff.Clock = opts.Clock
	di, ri, ni, pi := dsInformer.Informer(), revInformer.Informer(), nodeInformer.Informer(), podInformer.Informer()
	owners.AddIndex(pi)
	if err := pi.AddIndexers(cache.Indexers{nodeIndex: podNodeKeys}); err != nil {
		// Only possible when the factory was started before New: a wiring bug.
		panic(fmt.Sprintf("daemonset: adding the pod indexes: %v", err))
	}
	c.pods = pi.GetIndexer()
	c.synced = []cache.InformerSynced{di.HasSynced, ri.HasSynced, ni.HasSynced, pi.HasSynced}
	_, _ = di.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateDaemonSet,
		DeleteFunc: c.deleteDaemonSet,
	})
	_, _ = ri.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.revisionAdded,
		UpdateFunc: func(_, cur any) { c.revisionChanged(cur) },
		DeleteFunc: c.revisionChanged,
	})
	_, _ = ni.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addNode,
		UpdateFunc: c.updateNode,
		DeleteFunc: c.deleteNode,
	})
	_, _ = pi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run syncs DaemonSets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, "daemonset-controller")
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	go c.collectBackoff(ctx)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "daemonset", key, "err", err)
	})
	return nil
}

// collectBackoff forgets, once a minute, the back-off of nodes whose daemon
// pods have not failed for a while.
func (c *Controller) collectBackoff(ctx context.Context) {
	t := c.clock.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			c.failedBackoff.GC()
		}
	}
}

// podsOf are the pods ds controls, from the cache.
func (c *Controller) podsOf(ds *appsv1.DaemonSet) []*corev1.Pod {
	return owners.ControlledBy[*corev1.Pod](c.pods, ds)
}

func (c *Controller) byIndex(index, key string) []*corev1.Pod {
	objs, _ := c.pods.ByIndex(index, key)
	out := make([]*corev1.Pod, 0, len(objs))
	for _, obj := range objs {
		out = append(out, obj.(*corev1.Pod))
	}
	return out
}
