package job

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/owners"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the Job controller.
type Options struct {
	// Workers is how many Jobs are synced at once (default 5, as upstream's
	// --concurrent-job-syncs).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock is read for start and completion times, deadlines and back-offs,
	// and drives the workqueues' delays (default: the real clock). Tests pass
	// a fake one.
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

// Upstream's timings.
const (
	// syncBatchPeriod is how long a pod event (or a status write of the job's
	// own) waits for others to join it before the job is synced. A change of
	// the job's spec is synced at once.
	//
	// Upstream's one second, not the 100 ms of Skiff's ReplicaSet loop: a
	// job's sync counts only its own pods, so the batch saves no quadratic
	// work, but every state a sync sees can cost a status write (a pod Ready,
	// then Succeeded, then its finalizer gone), and a short pod goes through
	// them all within a second. One second makes a one-pod job cost about
	// three status writes instead of five, which is what bounds a storm of
	// short jobs on a loaded API server, for at most a second of latency.
	syncBatchPeriod = time.Second
	// podFailureBackoff is the delay before a failed pod is replaced, doubled
	// for each failure since the last success, up to maxPodFailureBackoff.
	// (The Job documentation still says six minutes; upstream's code has had
	// ten since v1.28.)
	podFailureBackoff    = 10 * time.Second
	maxPodFailureBackoff = 10 * time.Minute
	// apiBackoff and maxAPIBackoff bound the retries of a failed sync.
	apiBackoff    = time.Second
	maxAPIBackoff = time.Minute
	// maxUncountedPods caps status.uncountedTerminatedPods (about 20 KB of
	// uids), and so the finalizers removed by one sync.
	maxUncountedPods = 500
	// maxPodsPerSync caps the pods one sync creates or deletes.
	maxPodsPerSync = 500
)

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Controller is the Job controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker

	jobs   batchlisters.JobLister
	pods   cache.Indexer // by owners.Index
	synced []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
	// orphans are pods (namespace/name) that may still carry the tracking
	// finalizer of a job that is gone or finished.
	orphans workqueue.TypedRateLimitingInterface[string]

	patchPod func(context.Context, *corev1.Pod, []byte) error // adopts and releases
	expect   *jobExpectations
	backoff  *backoffStore
	writes   *ownWrites

	recorder record.EventRecorder // set by Run, before any worker starts
	logOnce  sync.Once
}

// isJobRef reports whether an owner reference names a batch Job (in any
// version of the group, as upstream resolves it).
func isJobRef(ref *metav1.OwnerReference) bool {
	group, _, _ := strings.Cut(ref.APIVersion, "/")
	return ref.Kind == jobKind.Kind && group == jobKind.Group
}

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	limiter := func() workqueue.TypedRateLimiter[string] {
		return workqueue.NewTypedItemExponentialFailureRateLimiter[string](apiBackoff, maxAPIBackoff)
	}
	c := &Controller{
		client: client,
		opts:   opts,
		log:    opts.Logger.With("controller", "job"),
		clock:  opts.Clock,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(limiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job", Clock: opts.Clock}),
		orphans: workqueue.NewTypedRateLimitingQueueWithConfig(limiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job_orphan_pod", Clock: opts.Clock}),
		expect:  newJobExpectations(opts.Clock.Now),
		backoff: newBackoffStore(),
		writes:  newOwnWrites(opts.Clock.Now),
	}
	c.patchPod = claim.PodPatcher(client)
	jobInformer := factory.Batch().V1().Jobs()
	ji, pi := jobInformer.Informer(), factory.Core().V1().Pods().Informer()
	owners.AddIndex(pi)
	c.jobs, c.pods = jobInformer.Lister(), pi.GetIndexer()
	c.synced = []cache.InformerSynced{ji.HasSynced, pi.HasSynced}
	_, _ = ji.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	})
	_, _ = pi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: func(obj any) { c.deletePod(obj, true) },
	})
	return c
}

// Run syncs Jobs, and clears the finalizers of pods whose Job is gone, until
// ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	defer c.orphans.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, "job-controller")
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	var wg sync.WaitGroup
	wg.Go(func() {
		workers.Run(ctx, c.orphans, c.opts.Workers, c.syncOrphanPod, func(key string, err error) {
			c.log.Info("clearing an orphan pod's finalizer failed; retrying", "pod", key, "err", err)
		})
	})
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "job", key, "err", err)
	})
	wg.Wait()
	return nil
}

// podsOf are the pods a Job controls, from the cache.
func (c *Controller) podsOf(j *batchv1.Job) []*corev1.Pod {
	return owners.ControlledBy[*corev1.Pod](c.pods, j)
}

// resolveControllerRef returns the Job a controller reference names, if it is
// still the same object (same UID).
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *batchv1.Job {
	if !isJobRef(ref) {
		return nil
	}
	j, err := c.jobs.Jobs(ns).Get(ref.Name)
	if err != nil || j.UID != ref.UID {
		return nil
	}
	return j
}
