package deployment

import (
	"maps"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller"
)

func (c *Controller) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// statusBatch is how long a change that can only move a Deployment's status
// (a ReplicaSet's ready count, a pod of a Recreate rollout going away) waits
// for others to join it: during a rollout of thousands of pods every ReplicaSet
// status write would otherwise cost a sync and a Deployment status write.
// Changes that can let a rollout take its next step are not held back.
const statusBatch = 100 * time.Millisecond

// enqueueBatched queues a Deployment within statusBatch. The delaying queue
// keeps one deadline per key, the earliest, so a later one (a progress check)
// is dropped; every sync that ends with nothing to write sets it again.
func (c *Controller) enqueueBatched(d *appsv1.Deployment) {
	if key, err := cache.MetaNamespaceKeyFunc(d); err == nil {
		c.queue.AddAfter(key, statusBatch)
	}
}

func (c *Controller) addDeployment(obj any) {
	d := obj.(*appsv1.Deployment)
	c.writes.observed(deploymentObject(d.Namespace, d.Name), d.ResourceVersion)
	c.enqueue(d)
}

func (c *Controller) deleteDeployment(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	c.writes.observed(deploymentObject(ns, name), "")
	c.writes.forget(key)
	c.queue.Add(key)
}

func (c *Controller) addReplicaSet(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	c.writes.observed(replicaSetObject(rs.Namespace, rs.Name), rs.ResourceVersion)
	if rs.DeletionTimestamp != nil {
		// Seen first on its way out (a restart of the informer).
		c.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	for _, d := range c.deploymentsSelecting(rs) {
		c.enqueue(d)
	}
}

func (c *Controller) updateReplicaSet(old, cur any) {
	o, n := old.(*appsv1.ReplicaSet), cur.(*appsv1.ReplicaSet)
	if n.ResourceVersion != "" && o.ResourceVersion == n.ResourceVersion {
		return // a resync: nothing changed
	}
	c.writes.observed(replicaSetObject(n.Namespace, n.Name), n.ResourceVersion)
	oldRef, curRef := metav1.GetControllerOf(o), metav1.GetControllerOf(n)
	refChanged := !reflect.DeepEqual(oldRef, curRef)
	if refChanged && oldRef != nil {
		if d := c.resolveControllerRef(o.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		d := c.resolveControllerRef(n.Namespace, curRef)
		if d == nil {
			return
		}
		if !refChanged && onlyCountsChanged(o, n) {
			c.enqueueBatched(d)
		} else {
			c.enqueue(d)
		}
		return
	}
	if refChanged || !maps.Equal(o.Labels, n.Labels) {
		for _, d := range c.deploymentsSelecting(n) {
			c.enqueue(d)
		}
	}
}

// onlyCountsChanged reports a ReplicaSet change that moves no step of a
// rollout: its spec, metadata and the counts a rollout waits on (available,
// active and terminating replicas, the generation observed) are as they were.
func onlyCountsChanged(o, n *appsv1.ReplicaSet) bool {
	return o.Generation == n.Generation &&
		ptr.Equal(o.Spec.Replicas, n.Spec.Replicas) &&
		o.Spec.MinReadySeconds == n.Spec.MinReadySeconds &&
		o.Status.Replicas == n.Status.Replicas &&
		o.Status.AvailableReplicas == n.Status.AvailableReplicas &&
		ptr.Equal(o.Status.TerminatingReplicas, n.Status.TerminatingReplicas) &&
		o.Status.ObservedGeneration == n.Status.ObservedGeneration &&
		o.DeletionTimestamp.Equal(n.DeletionTimestamp) &&
		maps.Equal(o.Labels, n.Labels) &&
		maps.Equal(o.Annotations, n.Annotations)
}

func (c *Controller) deleteReplicaSet(obj any) {
	rs, ok := controller.Deleted[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	c.writes.observed(replicaSetObject(rs.Namespace, rs.Name), "")
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return // an orphan going away changes no Deployment
	}
	if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
		c.enqueue(d)
	}
}

// deletePod wakes a Recreate rollout that waits for its old pods to be gone.
func (c *Controller) deletePod(obj any) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != replicaSetKind.Kind {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	rsRef := metav1.GetControllerOfNoCopy(rs)
	if rsRef == nil {
		return
	}
	if d := c.resolveControllerRef(rs.Namespace, rsRef); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueueBatched(d)
	}
}

// resolveControllerRef returns the Deployment a controller reference names, if
// it is still the same object (same UID).
func (c *Controller) resolveControllerRef(ns string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref.Kind != deploymentKind.Kind {
		return nil
	}
	d, err := c.deployments.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// deploymentsSelecting are the Deployments whose selector matches an orphan
// ReplicaSet: the candidates to adopt it. More than one is a user's mistake;
// the first to sync adopts it.
func (c *Controller) deploymentsSelecting(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	if len(rs.Labels) == 0 {
		return nil
	}
	list, err := c.deployments.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.Deployment
	for _, d := range list {
		selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || selector.Empty() || !selector.Matches(labels.Set(rs.Labels)) {
			continue
		}
		out = append(out, d)
	}
	return out
}
