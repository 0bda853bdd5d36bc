package deployment

import (
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/cache"
)

// ownWritesTTL bounds the wait for the informers to deliver the controller's
// own writes: a relist may skip a version, and a Deployment must not stall on
// one that never comes.
const ownWritesTTL = 5 * time.Second

// ownWrites remembers the objects (a Deployment, its ReplicaSets) the
// controller wrote and whose new versions the informers have not delivered
// yet, per Deployment. A sync that ran before they arrive would read its own
// writes stale, decide them again and fail on a conflict (upstream pays those
// conflicts: at scale, one per ReplicaSet status update). Instead the sync
// waits for the event that delivers them, which queues the Deployment again.
type ownWrites struct {
	mu      sync.Mutex
	now     func() time.Time
	objects map[string]ownWrite // by object: "deployment/NS/NAME", "rs/NS/NAME"
	waiting map[string]waiting  // by Deployment key
}

type ownWrite struct {
	deployment      string
	resourceVersion string
}

type waiting struct {
	objects int
	since   time.Time
}

func newOwnWrites(now func() time.Time) *ownWrites {
	return &ownWrites{now: now, objects: map[string]ownWrite{}, waiting: map[string]waiting{}}
}

// wrote records that the controller, syncing deployment, stored object at
// resourceVersion. cached reads the object's version in the informer's cache:
// informers store an object before they tell handlers, so a version already
// there has been (or is being) seen, and is not waited for.
func (w *ownWrites) wrote(deployment, object, resourceVersion string, cached func() string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if prev, ok := w.objects[object]; ok {
		w.dropLocked(object, prev)
	}
	if cached() == resourceVersion {
		return
	}
	w.objects[object] = ownWrite{deployment: deployment, resourceVersion: resourceVersion}
	wt := w.waiting[deployment]
	wt.objects++
	wt.since = w.now()
	w.waiting[deployment] = wt
}

// observed is called by the informers' handlers with every version they see
// (an empty one for a deletion).
func (w *ownWrites) observed(object, resourceVersion string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ow, ok := w.objects[object]; ok && (resourceVersion == "" || ow.resourceVersion == resourceVersion) {
		w.dropLocked(object, ow)
	}
}

func (w *ownWrites) dropLocked(object string, ow ownWrite) {
	delete(w.objects, object)
	wt := w.waiting[ow.deployment]
	if wt.objects--; wt.objects <= 0 {
		delete(w.waiting, ow.deployment)
	} else {
		w.waiting[ow.deployment] = wt
	}
}

// pending reports whether a Deployment's sync should wait for its own writes,
// and for how long at most.
func (w *ownWrites) pending(deployment string) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt, ok := w.waiting[deployment]
	if !ok {
		return 0, false
	}
	if left := ownWritesTTL - w.now().Sub(wt.since); left > 0 {
		return left, true
	}
	w.forgetLocked(deployment)
	return 0, false
}

func (w *ownWrites) forget(deployment string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(deployment)
}

func (w *ownWrites) forgetLocked(deployment string) {
	for object, ow := range w.objects {
		if ow.deployment == deployment {
			delete(w.objects, object)
		}
	}
	delete(w.waiting, deployment)
}

func deploymentObject(ns, name string) string { return "deployment/" + ns + "/" + name }
func replicaSetObject(ns, name string) string { return "rs/" + ns + "/" + name }

// wroteDeployment records a write of d, as the server returned it.
func (c *Controller) wroteDeployment(d *appsv1.Deployment) {
	c.writes.wrote(mustKey(d), deploymentObject(d.Namespace, d.Name), d.ResourceVersion, func() string {
		cached, err := c.deployments.Deployments(d.Namespace).Get(d.Name)
		if err != nil {
			return ""
		}
		return cached.ResourceVersion
	})
}

// wroteReplicaSet records a write of rs, syncing d, as the server returned it.
func (c *Controller) wroteReplicaSet(d *appsv1.Deployment, rs *appsv1.ReplicaSet) {
	c.writes.wrote(mustKey(d), replicaSetObject(rs.Namespace, rs.Name), rs.ResourceVersion, func() string {
		cached, err := c.rsLister.ReplicaSets(rs.Namespace).Get(rs.Name)
		if err != nil {
			return ""
		}
		return cached.ResourceVersion
	})
}

func mustKey(obj any) string {
	key, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	return key
}
