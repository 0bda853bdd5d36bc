package daemonset

import (
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller"
)

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

func keyOf(ds *appsv1.DaemonSet) string { return ds.Namespace + "/" + ds.Name }

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// statusBatch is how long a pod change that only moves a DaemonSet's status
// waits for others to join it: in a storm of pods going Running, one status
// write per pod would only load the API server. A change that may need a pod
// created or deleted is not held back.
const statusBatch = 50 * time.Millisecond

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

func (c *Controller) updateDaemonSet(old, cur any) {
	o, n := old.(*appsv1.DaemonSet), cur.(*appsv1.DaemonSet)
	if o.UID != n.UID {
		// Deleted and recreated under the same name between two events.
		c.deleteDaemonSet(cache.DeletedFinalStateUnknown{Key: keyOf(o), Obj: o})
	}
	c.queue.Add(keyOf(n))
}

func (c *Controller) deleteDaemonSet(obj any) {
	ds, ok := controller.Deleted[*appsv1.DaemonSet](obj)
	if !ok {
		return
	}
	c.expect.Forget(keyOf(ds))
	c.queue.Add(keyOf(ds))
}

// resolve returns the DaemonSet a controller reference names, if it is one
// and still the same object.
func (c *Controller) resolve(ns string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref == nil || ref.Kind != daemonSetKind.Kind {
		return nil
	}
	ds, err := c.daemonSets.DaemonSets(ns).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

// revisionAdded queues the DaemonSets that could adopt an orphan revision.
// A revision that names its controller changes nothing until that DaemonSet
// syncs for another reason, as upstream's: a revision made by hand beside the
// controller's own is not deduplicated away at once (the ControllerRevision
// conformance test counts on it).
func (c *Controller) revisionAdded(obj any) {
	rev, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return
	}
	if rev.DeletionTimestamp != nil || metav1.GetControllerOfNoCopy(rev) == nil {
		c.revisionChanged(obj)
	}
}

// revisionChanged queues the DaemonSet that controls a revision or, for an
// orphan, those that could adopt it.
func (c *Controller) revisionChanged(obj any) {
	rev, ok := controller.Deleted[*appsv1.ControllerRevision](obj)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rev); ref != nil {
		if ds := c.resolve(rev.Namespace, ref); ds != nil {
			c.queue.Add(keyOf(ds))
		}
		return
	}
	if rev.DeletionTimestamp == nil {
		c.enqueueMatching(rev.Namespace, rev.Labels)
	}
}

// enqueueMatching queues the DaemonSets in ns whose selector matches lbls.
func (c *Controller) enqueueMatching(ns string, lbls map[string]string) {
	if len(lbls) == 0 {
		return
	}
	list, _ := c.daemonSets.DaemonSets(ns).List(labels.Everything())
	for _, ds := range list {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(lbls)) {
			c.queue.Add(keyOf(ds))
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
		ds := c.resolve(pod.Namespace, ref)
		if ds == nil {
			return
		}
		key := keyOf(ds)
		c.expect.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	c.enqueueMatching(pod.Namespace, pod.Labels)
}

func (c *Controller) updatePod(old, cur any) {
	o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
	if o.ResourceVersion == n.ResourceVersion {
		return
	}
	labelsChanged := !maps.Equal(o.Labels, n.Labels)
	if n.DeletionTimestamp != nil {
		c.deletePod(n)
		if labelsChanged {
			c.deletePod(o)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(n)
	refChanged := !equality.Semantic.DeepEqual(oldRef, curRef)
	if refChanged && oldRef != nil {
		if ds := c.resolve(o.Namespace, oldRef); ds != nil {
			c.queue.Add(keyOf(ds))
		}
	}
	if curRef == nil {
		if labelsChanged || refChanged {
			c.enqueueMatching(n.Namespace, n.Labels)
		}
		return
	}
	ds := c.resolve(n.Namespace, curRef)
	if ds == nil {
		return
	}
	key := keyOf(ds)
	wasReady, ready := podReady(o), podReady(n)
	switch {
	case refChanged || labelsChanged || o.Status.Phase != n.Status.Phase && podFinished(n):
		c.queue.Add(key) // to be replaced, released or adopted
	case wasReady && !ready && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType:
		c.queue.Add(key) // a rolling update may have to account for it
	default:
		c.enqueueBatched(key)
	}
	if !wasReady && ready && ds.Spec.MinReadySeconds > 0 {
		// It becomes available minReadySeconds later (plus a second of slack).
		c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := controller.Deleted[*corev1.Pod](obj)
	if !ok {
		return
	}
	ds := c.resolve(pod.Namespace, metav1.GetControllerOfNoCopy(pod))
	if ds == nil {
		return // nobody counts orphans
	}
	key := keyOf(ds)
	c.expect.DeletionObserved(key, podKey(pod))
	c.queue.Add(key)
}

func (c *Controller) addNode(obj any) {
	c.nodeChanged(nil, obj.(*corev1.Node))
}

// updateNode looks again at a node whose labels or taints changed: nothing
// else decides where daemon pods go.
func (c *Controller) updateNode(old, cur any) {
	o, n := old.(*corev1.Node), cur.(*corev1.Node)
	if maps.Equal(o.Labels, n.Labels) && equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) {
		return
	}
	c.nodeChanged(o, n)
}

// nodeChanged queues every DaemonSet that now has to start a pod on node, or
// to remove one from it, or for which the node changed eligibility (its
// status counts change).
func (c *Controller) nodeChanged(old, node *corev1.Node) {
	list, err := c.daemonSets.List(labels.Everything())
	if err != nil || len(list) == 0 {
		return
	}
	onNode := c.byIndex(nodeIndex, node.Name)
	for _, ds := range list {
		has := false
		for _, pod := range onNode {
			if metav1.IsControlledBy(pod, ds) {
				has = true
				break
			}
		}
		p := newPlacement(ds)
		shouldRun, shouldContinue := p.check(node)
		changed := false
		if old != nil {
			wasRun, wasContinue := p.check(old)
			changed = wasRun != shouldRun || wasContinue != shouldContinue
		}
		if changed || shouldRun && !has || !shouldContinue && has || has && ds.Status.NumberMisscheduled > 0 {
			c.queue.Add(keyOf(ds))
		}
	}
}

// deleteNode queues the DaemonSets that had pods on a node that is gone.
func (c *Controller) deleteNode(obj any) {
	node, ok := controller.Deleted[*corev1.Node](obj)
	if !ok {
		return
	}
	for _, pod := range c.byIndex(nodeIndex, node.Name) {
		if ds := c.resolve(pod.Namespace, metav1.GetControllerOfNoCopy(pod)); ds != nil {
			c.queue.Add(keyOf(ds))
		}
	}
}

func podReady(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podAvailable: ready for at least minReadySeconds.
func podAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type != corev1.PodReady {
			continue
		}
		if cond.Status != corev1.ConditionTrue {
			return false
		}
		if minReadySeconds == 0 {
			return true
		}
		d := time.Duration(minReadySeconds) * time.Second
		return !cond.LastTransitionTime.IsZero() && cond.LastTransitionTime.Add(d).Before(now)
	}
	return false
}

func podFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
