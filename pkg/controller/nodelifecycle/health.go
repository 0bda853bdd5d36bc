package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Upstream's wording for a node the controller stopped hearing from.
const (
	reasonUnknown       = "NodeStatusUnknown"
	messageUnknown      = "Kubelet stopped posting node status."
	reasonNeverUpdated  = "NodeStatusNeverUpdated"
	messageNeverUpdated = "Kubelet never posted node status."
)

// watchedConditions are the conditions set to Unknown when a node goes silent.
var watchedConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

func (c *Controller) nodeAdded(node *corev1.Node) {
	c.observeNode(node)
	c.recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, "RegisteredNode",
		"Node %s event: Registered Node %s in Controller", node.Name, node.Name)
	c.nodeQueue.Add(node.Name)
	c.enqueuePodsIfTainted(node)
}

func (c *Controller) nodeUpdated(old, node *corev1.Node) {
	c.observeNode(node)
	c.nodeQueue.Add(node.Name)
	if !sameTaints(noExecuteTaints(old), noExecuteTaints(node)) {
		c.forgetRemovedTaints(node)
		for _, pod := range c.podsOn(node.Name) {
			c.enqueuePod(pod)
		}
	}
}

func (c *Controller) nodeDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	delete(c.health, node.Name)
	for id := range c.taintSeen {
		if id.node == node.Name {
			delete(c.taintSeen, id)
		}
	}
	c.mu.Unlock()
	c.recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, "RemovingNode",
		"Node %s event: Removing Node %s from Controller", node.Name, node.Name)
}

// observeNode notes a new status heartbeat.
func (c *Controller) observeNode(node *corev1.Node) {
	var beat time.Time
	if ready := condition(node, corev1.NodeReady); ready != nil {
		beat = ready.LastHeartbeatTime.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.healthLocked(node.Name)
	if !beat.Equal(h.heartbeat) {
		h.heartbeat = beat
		h.probe = c.clock.Now()
	}
}

// observeLease notes a Lease renewal.
func (c *Controller) observeLease(l *coordinationv1.Lease) {
	if l.Spec.RenewTime == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.healthLocked(l.Name)
	if !l.Spec.RenewTime.Time.Equal(h.renew) {
		h.renew = l.Spec.RenewTime.Time
		h.probe = c.clock.Now()
	}
}

// healthLocked is the node's record; a node first heard of now gets a full
// grace period from now.
func (c *Controller) healthLocked(name string) *nodeHealth {
	h := c.health[name]
	if h == nil {
		h = &nodeHealth{probe: c.clock.Now()}
		c.health[name] = h
	}
	return h
}

// syncNode marks a silent node Unknown, brings its condition taints in line
// with its conditions, and marks the pods of an unreachable node not ready.
func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	probe := c.healthLocked(name).probe
	c.mu.Unlock()

	now := c.clock.Now()
	ready := condition(node, corev1.NodeReady)
	grace := c.opts.GracePeriod
	if ready == nil {
		grace = c.opts.StartupGracePeriod
	}
	if silent := now.Sub(probe); silent > grace {
		if unknown, changed := markUnknown(node, metav1.NewTime(now)); changed {
			updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, unknown, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("marking node %q unknown: %w", name, err)
			}
			if ready != nil && ready.Status == corev1.ConditionTrue {
				c.recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", name)
			}
			node = updated
		}
	} else {
		// Look again the moment the grace period would run out.
		c.nodeQueue.AddAfter(name, grace-silent+10*time.Millisecond)
	}

	var errs []error
	if err := c.reconcileTaints(ctx, node); err != nil {
		errs = append(errs, err)
	}
	if r := condition(node, corev1.NodeReady); r != nil && r.Status == corev1.ConditionUnknown {
		if err := c.markPodsNotReady(ctx, node); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// markUnknown is node with the watched conditions Unknown, and whether that
// changes anything. Heartbeat times stay: they say when the node last spoke.
func markUnknown(node *corev1.Node, now metav1.Time) (*corev1.Node, bool) {
	out := node.DeepCopy()
	changed := false
	for _, t := range watchedConditions {
		c := condition(out, t)
		switch {
		case c == nil:
			out.Status.Conditions = append(out.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown, Reason: reasonNeverUpdated, Message: messageNeverUpdated,
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: now,
			})
			changed = true
		case c.Status != corev1.ConditionUnknown:
			c.Status = corev1.ConditionUnknown
			c.Reason = reasonUnknown
			c.Message = messageUnknown
			c.LastTransitionTime = now
			changed = true
		}
	}
	return out, changed
}

// markPodsNotReady sets the Ready condition of the node's pods to False, as
// their kubelet can no longer say whether they are.
func (c *Controller) markPodsNotReady(ctx context.Context, node *corev1.Node) error {
	var errs []error
	for _, pod := range c.podsOn(node.Name) {
		i := podConditionIndex(pod, corev1.PodReady)
		if i < 0 || pod.Status.Conditions[i].Status == corev1.ConditionFalse {
			continue
		}
		p := pod.DeepCopy()
		p.Status.Conditions[i].Status = corev1.ConditionFalse
		p.Status.Conditions[i].LastTransitionTime = metav1.NewTime(c.clock.Now())
		updated, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("marking pod %s/%s not ready: %w", p.Namespace, p.Name, err))
			continue
		}
		c.recorder.Eventf(updated, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	return errors.Join(errs...)
}

// podChanged: a pod that lands on a node with NoExecute taints is considered
// for eviction, and one on an unreachable node is marked not ready.
func (c *Controller) podChanged(pod *corev1.Pod) {
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		return
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if err != nil {
		return
	}
	if len(noExecuteTaints(node)) > 0 {
		c.enqueuePod(pod)
	}
	if r := condition(node, corev1.NodeReady); r != nil && r.Status == corev1.ConditionUnknown {
		if i := podConditionIndex(pod, corev1.PodReady); i >= 0 && pod.Status.Conditions[i].Status != corev1.ConditionFalse {
			c.nodeQueue.Add(node.Name)
		}
	}
}

func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

func podConditionIndex(pod *corev1.Pod, t corev1.PodConditionType) int {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return i
		}
	}
	return -1
}
