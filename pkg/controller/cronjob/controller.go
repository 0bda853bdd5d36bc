package cronjob

import (
	"context"
	"log/slog"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller/events"
	"github.com/skiffhq/skiff/pkg/controller/owners"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the CronJob controller.
type Options struct {
	// Workers is how many CronJobs are synced at once (default 5, as
	// upstream's --concurrent-cron-job-syncs).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock says when schedules are due and drives the workqueue's delays
	// (default: the real clock). Tests pass a fake one to make schedules fire.
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

// Controller is the CronJob controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker

	cronJobs batchlisters.CronJobLister
	jobs     cache.Indexer // by owners.Index
	synced   []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder // set by Run, before any worker starts

	// written holds each CronJob's status as this controller last wrote it,
	// with the resourceVersion that write replaced, so that a sync whose
	// cache has not caught up yet neither starts a scheduled time twice nor
	// writes from the stale copy.
	mu      sync.Mutex
	written map[string]ownWrite
}

type ownWrite struct {
	replaced string
	cj       *batchv1.CronJob
}

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// New registers the controller's informers and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	cjInformer := factory.Batch().V1().CronJobs()
	jobInformer := factory.Batch().V1().Jobs()
	c := &Controller{
		client:   client,
		opts:     opts,
		log:      opts.Logger.With("controller", "cronjob"),
		clock:    opts.Clock,
		cronJobs: cjInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob", Clock: opts.Clock}),
		written: map[string]ownWrite{},
	}
	ci, ji := cjInformer.Informer(), jobInformer.Informer()
	owners.AddIndex(ji)
	c.jobs = ji.GetIndexer()
	c.synced = []cache.InformerSynced{ci.HasSynced, ji.HasSynced}
	_, _ = ci.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateCronJob,
		DeleteFunc: c.enqueue,
	})
	_, _ = ji.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.jobChanged,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*batchv1.Job), cur.(*batchv1.Job)
			if o.ResourceVersion == n.ResourceVersion {
				return // a resync
			}
			if ref := metav1.GetControllerOfNoCopy(o); ref != nil && !ownedBy(n, ref.UID) {
				c.jobChanged(o) // released or taken over: its old owner must let it go
			}
			c.jobChanged(n)
		},
		DeleteFunc: c.jobChanged,
	})
	return c
}

// Run syncs CronJobs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	recorder, stopEvents := events.Start(ctx, c.client, "cronjob-controller")
	defer stopEvents()
	c.recorder = recorder

	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("sync failed; retrying", "cronjob", key, "err", err)
	})
	return nil
}

// jobsOf are the Jobs a CronJob controls, from the cache.
func (c *Controller) jobsOf(cj *batchv1.CronJob) []*batchv1.Job {
	return owners.ControlledBy[*batchv1.Job](c.jobs, cj)
}

func ownedBy(job *batchv1.Job, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(job)
	return ref != nil && ref.UID == uid
}

// remember notes a status this controller wrote over the version replaced.
func (c *Controller) remember(key, replaced string, cj *batchv1.CronJob) {
	if replaced == "" {
		return // nothing to tell the versions apart by
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written[key] = ownWrite{replaced: replaced, cj: cj}
}

// latest is the freshest copy of a CronJob this controller knows: the one it
// wrote itself when the cache still shows the version that write replaced.
func (c *Controller) latest(key string, cached *batchv1.CronJob) *batchv1.CronJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.written[key]
	switch {
	case !ok:
		return cached
	case cached != nil && cached.UID == w.cj.UID && cached.ResourceVersion == w.replaced:
		return w.cj
	}
	delete(c.written, key) // the cache has caught up, or the CronJob is gone
	return cached
}
