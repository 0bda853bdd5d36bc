package nodelifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// The DisruptionTarget condition upstream's taint eviction sets before it
// deletes a pod.
const (
	reasonDeletionByTaintManager  = "DeletionByTaintManager"
	messageDeletionByTaintManager = "Taint manager: deleting due to NoExecute taint"
)

func (c *Controller) enqueuePod(pod *corev1.Pod) {
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		c.podQueue.Add(key)
	}
}

func (c *Controller) enqueuePodsIfTainted(node *corev1.Node) {
	if len(noExecuteTaints(node)) == 0 {
		return
	}
	for _, pod := range c.podsOn(node.Name) {
		c.enqueuePod(pod)
	}
}

// forgetRemovedTaints drops the first-seen times of NoExecute taints the node
// no longer has.
func (c *Controller) forgetRemovedTaints(node *corev1.Node) {
	taints := noExecuteTaints(node)
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.taintSeen {
		if id.node == node.Name && !containsTaint(taints, corev1.Taint{Key: id.key, Effect: corev1.TaintEffect(id.effect)}) {
			delete(c.taintSeen, id)
		}
	}
}

// syncPod evicts a pod whose node has a NoExecute taint it does not tolerate,
// or has tolerated for its tolerationSeconds; a pod with time left is looked
// at again when it runs out.
func (c *Controller) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	obj, exists, err := c.pods.GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		c.unschedule(key, nil)
		return nil
	}
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil || pod.Spec.NodeName == "" {
		c.unschedule(key, nil)
		return nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if err != nil {
		c.unschedule(key, pod)
		return nil
	}
	now := c.clock.Now()
	at, evict := evictionTime(pod.Spec.Tolerations, c.stampedTaints(node, now), now)
	if !evict {
		c.unschedule(key, pod)
		return nil
	}
	if at.After(now) {
		c.mu.Lock()
		c.scheduled[key] = true
		c.mu.Unlock()
		c.podQueue.AddAfter(key, at.Sub(now))
		return nil
	}
	if err := c.evict(ctx, pod); err != nil {
		return fmt.Errorf("evicting pod %s/%s: %w", ns, name, err)
	}
	c.mu.Lock()
	delete(c.scheduled, key)
	c.mu.Unlock()
	return nil
}

// unschedule forgets a pending eviction; for a pod still there, it says so as
// upstream does.
func (c *Controller) unschedule(key string, pod *corev1.Pod) {
	c.mu.Lock()
	was := c.scheduled[key]
	delete(c.scheduled, key)
	c.mu.Unlock()
	if was && pod != nil {
		c.evictRecorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Cancelling deletion of Pod %s/%s", pod.Namespace, pod.Name)
	}
}

// stampedTaints are the node's NoExecute taints, each with the time it was
// added: its timeAdded, or when this controller first saw it.
func (c *Controller) stampedTaints(node *corev1.Node, now time.Time) []corev1.Taint {
	taints := noExecuteTaints(node)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range taints {
		if taints[i].TimeAdded != nil {
			continue
		}
		id := taintID{node.Name, taints[i].Key, string(taints[i].Effect)}
		seen, ok := c.taintSeen[id]
		if !ok {
			seen = now
			c.taintSeen[id] = now
		}
		taints[i].TimeAdded = &metav1.Time{Time: seen}
	}
	return taints
}

// evictionTime is when a pod with these tolerations must leave a node with
// these NoExecute taints (which carry timeAdded): at once for a taint it does
// not tolerate, else tolerationSeconds after the taint came, taking for each
// taint the first toleration that matches it, as upstream does. evict is false
// when every taint is tolerated forever.
func evictionTime(tolerations []corev1.Toleration, taints []corev1.Taint, now time.Time) (at time.Time, evict bool) {
	for i := range taints {
		taint := &taints[i]
		var match *corev1.Toleration
		for j := range tolerations {
			if tolerates(&tolerations[j], taint) {
				match = &tolerations[j]
				break
			}
		}
		if match == nil {
			return now, true
		}
		if match.TolerationSeconds == nil {
			continue
		}
		added := now
		if taint.TimeAdded != nil {
			added = taint.TimeAdded.Time
		}
		deadline := added.Add(time.Duration(max(*match.TolerationSeconds, 0)) * time.Second)
		if !evict || deadline.Before(at) {
			at, evict = deadline, true
		}
	}
	return at, evict
}

// tolerates is upstream's toleration matching: an empty effect matches every
// effect, an empty key with Exists every key, Equal (the default) compares
// values.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	}
	return false
}

// evict marks the pod as disrupted and deletes it (gracefully: its kubelet, if
// it ever comes back, finishes the deletion).
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	if i := podConditionIndex(pod, corev1.DisruptionTarget); i < 0 || pod.Status.Conditions[i].Status != corev1.ConditionTrue {
		p := pod.DeepCopy()
		cond := corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: reasonDeletionByTaintManager, Message: messageDeletionByTaintManager,
			LastTransitionTime: metav1.NewTime(c.clock.Now()),
		}
		if i < 0 {
			p.Status.Conditions = append(p.Status.Conditions, cond)
		} else {
			p.Status.Conditions[i] = cond
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
	}
	c.evictRecorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}
