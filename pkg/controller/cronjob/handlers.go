package cronjob

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller"
)

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// updateCronJob syncs a changed CronJob now, except when only its schedule or
// time zone changed: a new schedule is first looked at at its own next time,
// so that a time the old schedule did not have is not started late.
func (c *Controller) updateCronJob(old, cur any) {
	o, n := old.(*batchv1.CronJob), cur.(*batchv1.CronJob)
	if o.ResourceVersion == n.ResourceVersion {
		return // a resync: its wake-up is queued already
	}
	if o.Spec.Schedule == n.Spec.Schedule && ptr.Equal(o.Spec.TimeZone, n.Spec.TimeZone) {
		c.enqueue(n)
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(n)
	if err != nil {
		return
	}
	loc, err := location(n)
	if err != nil {
		c.queue.Add(key) // the sync reports the zone
		return
	}
	s, err := parseSchedule(n, loc)
	if err != nil {
		c.queue.Add(key) // the sync reports the schedule
		return
	}
	c.queue.AddAfter(key, nextWake(s, c.clock.Now()))
}

// jobChanged wakes the CronJob that controls a Job that appeared, changed or
// went away.
func (c *Controller) jobChanged(obj any) {
	job, ok := controller.Deleted[*batchv1.Job](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(job)
	if ref == nil || ref.Kind != cronJobKind.Kind {
		return
	}
	cj, err := c.cronJobs.CronJobs(job.Namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return
	}
	c.enqueue(cj)
}
