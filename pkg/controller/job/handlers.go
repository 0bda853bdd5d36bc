package job

import (
	"reflect"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller"
)

func jobKey(obj any) (string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key, err == nil
}

// enqueueNow syncs a Job at once: it was created, deleted or its spec changed.
func (c *Controller) enqueueNow(obj any) {
	if key, ok := jobKey(obj); ok {
		c.queue.Add(key)
	}
}

// enqueueBatched syncs a Job within syncBatchPeriod, with whatever else
// happens to it meanwhile. (The delaying queue keeps the earliest deadline of
// a key, so a stream of events costs one sync per period.)
func (c *Controller) enqueueBatched(obj any) {
	c.enqueueAfter(obj, syncBatchPeriod)
}

// enqueueAfter syncs a Job after d, and not before the batch period: a pod
// re-creation that waits out a back-off.
func (c *Controller) enqueueAfter(obj any, d time.Duration) {
	if key, ok := jobKey(obj); ok {
		c.queue.AddAfter(key, max(d, syncBatchPeriod))
	}
}

func (c *Controller) addJob(obj any) { c.enqueueNow(obj) }

func (c *Controller) updateJob(old, cur any) {
	o, n := old.(*batchv1.Job), cur.(*batchv1.Job)
	if o.UID != n.UID {
		// Deleted and created again under the same name between two events.
		c.deleteJob(cache.DeletedFinalStateUnknown{Key: mustKey(o), Obj: o})
		c.enqueueNow(n)
		return
	}
	if isFinished(n) {
		if !isFinished(o) {
			// Its pods' finalizers should be gone already; this is the backstop.
			c.enqueueOrphansOf(n)
		}
		return
	}
	if n.Generation == o.Generation {
		c.enqueueBatched(n) // a status write, most likely our own
	} else {
		c.enqueueNow(n)
	}
	// A new activeDeadlineSeconds takes effect when it says, not at the next event.
	if n.Status.StartTime != nil && n.Spec.ActiveDeadlineSeconds != nil &&
		(o.Spec.ActiveDeadlineSeconds == nil || *o.Spec.ActiveDeadlineSeconds != *n.Spec.ActiveDeadlineSeconds) {
		total := time.Duration(*n.Spec.ActiveDeadlineSeconds) * time.Second
		c.queue.AddAfter(mustKey(n), total-c.clock.Since(n.Status.StartTime.Time))
	}
}

func (c *Controller) deleteJob(obj any) {
	j, ok := controller.Deleted[*batchv1.Job](obj)
	if !ok {
		return
	}
	key := mustKey(j)
	c.expect.Forget(key)
	c.backoff.forget(key)
	c.writes.forget(key)
	c.enqueueOrphansOf(j)
	c.queue.Add(key)
}

// enqueueOrphansOf queues for finalizer removal the pods of a Job that is
// gone or finished.
func (c *Controller) enqueueOrphansOf(j *batchv1.Job) {
	for _, pod := range c.podsOf(j) {
		if hasTrackingFinalizer(pod) {
			c.orphans.Add(mustKey(pod))
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen first on its way out (a restart): not one of our creations.
		c.deletePod(pod, false)
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		if hasTrackingFinalizer(pod) {
			c.orphans.Add(mustKey(pod))
		}
		for _, j := range c.jobsSelecting(pod) {
			c.enqueueBatched(j)
		}
		return
	}
	if j := c.resolveControllerRef(pod.Namespace, ref); j != nil {
		c.expect.CreationObserved(mustKey(j))
		c.enqueueBatched(j)
	} else if isJobRef(ref) && hasTrackingFinalizer(pod) {
		c.orphans.Add(mustKey(pod))
	}
}

func (c *Controller) updatePod(old, cur any) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if o.ResourceVersion == n.ResourceVersion {
		return // a resync
	}
	if n.DeletionTimestamp != nil {
		// Counted as gone as soon as it is being deleted, so that it can be
		// replaced without waiting for its grace period.
		c.deletePod(n, false)
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(n)
	if oldRef != nil && !reflect.DeepEqual(oldRef, curRef) {
		if j := c.resolveControllerRef(o.Namespace, oldRef); j != nil {
			c.expect.finalizerRemovalObserved(mustKey(j), n.UID)
			c.enqueueBatched(j)
		}
	}
	if curRef == nil {
		if hasTrackingFinalizer(n) {
			c.orphans.Add(mustKey(n)) // released, or orphaned by the garbage collector
		}
		if oldRef != nil || !reflect.DeepEqual(o.Labels, n.Labels) {
			for _, j := range c.jobsSelecting(n) {
				c.enqueueBatched(j)
			}
		}
		return
	}
	j := c.resolveControllerRef(n.Namespace, curRef)
	if j == nil || isFinished(j) {
		if isJobRef(curRef) && hasTrackingFinalizer(n) {
			c.orphans.Add(mustKey(n))
		}
		return
	}
	if !hasTrackingFinalizer(n) {
		c.expect.finalizerRemovalObserved(mustKey(j), n.UID)
	}
	c.enqueueBatched(j)
}

// deletePod handles a pod that is being deleted (final: the object is gone).
func (c *Controller) deletePod(obj any, final bool) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	finalizer := hasTrackingFinalizer(pod)
	if ref == nil {
		if finalizer {
			c.orphans.Add(mustKey(pod)) // the garbage collector orphaned it
		}
		return
	}
	j := c.resolveControllerRef(pod.Namespace, ref)
	if j == nil || isFinished(j) {
		// No sync will clear this finalizer.
		if finalizer && isJobRef(ref) {
			c.orphans.Add(mustKey(pod))
		}
		return
	}
	key := mustKey(j)
	c.expect.DeletionObserved(key, mustKey(pod))
	if final || !finalizer {
		c.expect.finalizerRemovalObserved(key, pod.UID)
	}
	c.enqueueBatched(j)
}

func mustKey(obj any) string {
	key, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key
}
