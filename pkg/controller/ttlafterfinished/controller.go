package ttlafterfinished

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// Options tune the TTL-after-finished controller.
type Options struct {
	// Workers is how many Jobs are looked at at once (default 5, as upstream's
	// --concurrent-ttl-after-finished-syncs).
	Workers int
	// Logger receives the controller's logs (default: discarded).
	Logger *slog.Logger
	// Clock says when a Job's TTL has run out and drives the workqueue's
	// delays (default: the real clock). Tests pass a fake one.
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

// Controller is the TTL-after-finished controller.
type Controller struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger
	clock  clock.WithTicker
	jobs   batchlisters.JobLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informer and handlers on factory; the caller
// starts the factory, then calls Run.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.setDefaults()
	inf := factory.Batch().V1().Jobs()
	c := &Controller{
		client: client,
		opts:   opts,
		log:    opts.Logger.With("controller", "ttlafterfinished"),
		clock:  opts.Clock,
		jobs:   inf.Lister(),
		synced: inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ttl_jobs_to_delete", Clock: opts.Clock}),
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobChanged,
		UpdateFunc: func(_, cur any) { c.jobChanged(cur) },
	})
	return c
}

// Run deletes expired Jobs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	c.log.Debug("caches synced", "workers", c.opts.Workers)
	workers.Run(ctx, c.queue, c.opts.Workers, c.sync, func(key string, err error) {
		c.log.Info("cleaning up job failed; retrying", "job", key, "err", err)
	})
	return nil
}

func (c *Controller) jobChanged(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok || job.DeletionTimestamp != nil || !hasTTL(job) {
		return
	}
	if _, finished := finishedAt(job); !finished {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(job); err == nil {
		c.queue.Add(key)
	}
}

// sync deletes a Job whose TTL has run out, or queues it again for when it
// will.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	job, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.expired(key, job); err != nil || !expired {
		return err
	}
	// The cache may be behind: a TTL raised, or the Job restarted or
	// replaced under the same name. Decide on what the API holds now.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.expired(key, fresh); err != nil || !expired {
		return err
	}
	// Foreground, as upstream: the Job stays (terminating) until its pods are gone.
	foreground := metav1.DeletePropagationForeground
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &foreground,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		// Changed since it was read: its update event queues it again.
		return nil
	case err != nil:
		return fmt.Errorf("deleting job %q in namespace %q: %w", name, ns, err)
	}
	c.log.Debug("deleted expired job", "job", key)
	return nil
}

// expired reports whether job's TTL has run out; when it has not, the Job is
// queued for the moment it will.
func (c *Controller) expired(key string, job *batchv1.Job) (bool, error) {
	if job.DeletionTimestamp != nil || !hasTTL(job) {
		return false, nil
	}
	done, finished := finishedAt(job)
	if !finished {
		return false, nil
	}
	if done.IsZero() {
		return false, fmt.Errorf("job %q in namespace %q finished at no recorded time", job.Name, job.Namespace)
	}
	now := c.clock.Now()
	if done.After(now) {
		c.log.Info("job finished in the future: clocks disagree; its cleanup waits", "job", key, "finished", done)
	}
	left := done.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now)
	if left > 0 {
		c.queue.AddAfter(key, left)
		return false, nil
	}
	return true, nil
}

func hasTTL(job *batchv1.Job) bool { return job.Spec.TTLSecondsAfterFinished != nil }

// finishedAt is when a Job's Complete or Failed condition turned true.
func finishedAt(job *batchv1.Job) (time.Time, bool) {
	for _, cond := range job.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			return cond.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}
