package podgc

import (
	"context"
	"encoding/json"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Why a pod is collected, as logged.
const (
	reasonTerminated   = "terminated pods over the threshold"
	reasonOutOfService = "terminating on an out-of-service node"
	reasonOrphaned     = "bound to a node that no longer exists"
	reasonUnscheduled  = "terminating and never scheduled"
)

// The DisruptionTarget condition upstream's podgc gives an orphan it fails.
const (
	ReasonDeletionByPodGC = "DeletionByPodGC"
	MessageNodeGone       = "PodGC: node no longer exists"
)

var orphanCondition = &corev1.PodCondition{
	Type:    corev1.DisruptionTarget,
	Status:  corev1.ConditionTrue,
	Reason:  ReasonDeletionByPodGC,
	Message: MessageNodeGone,
}

// deleter runs one pass's deletions, Workers at a time, each pod once.
type deleter struct {
	c    *Controller
	ctx  context.Context
	g    errgroup.Group
	seen map[types.UID]bool
}

func (c *Controller) newDeleter(ctx context.Context) *deleter {
	d := &deleter{c: c, ctx: ctx, seen: map[types.UID]bool{}}
	d.g.SetLimit(c.opts.Workers)
	return d
}

// delete marks pod Failed (with cond, if given) unless it is terminal, then
// deletes it at once. Errors are logged: the next pass tries again.
func (d *deleter) delete(pod *corev1.Pod, why string, cond *corev1.PodCondition) {
	if d.seen[pod.UID] || d.ctx.Err() != nil {
		return
	}
	d.seen[pod.UID] = true
	d.g.Go(func() error {
		d.c.log.Info("force-deleting pod", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName, "why", why)
		if err := d.c.failAndDelete(d.ctx, pod, cond); err != nil && d.ctx.Err() == nil {
			d.c.log.Warn("deleting pod failed; retrying next pass", "pod", pod.Namespace+"/"+pod.Name, "why", why, "err", err)
		}
		return nil
	})
}

func (d *deleter) wait() { _ = d.g.Wait() }

// failAndDelete is the collection of one pod. A pod that is gone, or was
// replaced by another of the same name, is not an error.
func (c *Controller) failAndDelete(ctx context.Context, pod *corev1.Pod, cond *corev1.PodCondition) error {
	if !terminal(pod) {
		// Nothing else will ever end this pod's phase: its kubelet is gone.
		patch, err := c.failedPatch(pod, cond)
		if err != nil {
			return err
		}
		_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("marking pod %q in namespace %q Failed: %w", pod.Name, pod.Namespace, err)
		}
	}
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		// A pod of the same name made since (a StatefulSet's) is not ours.
		Preconditions: metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting pod %q in namespace %q: %w", pod.Name, pod.Namespace, err)
	}
	return nil
}

// failedPatch is the strategic merge patch of pods/status that sets phase
// Failed and merges cond (by type) into the conditions. The pod's UID in it
// makes the server refuse it (Conflict) if the pod was replaced.
func (c *Controller) failedPatch(pod *corev1.Pod, cond *corev1.PodCondition) ([]byte, error) {
	status := map[string]any{"phase": corev1.PodFailed}
	if pod.Generation > 0 {
		status["observedGeneration"] = pod.Generation
	}
	if cond != nil {
		next := *cond
		next.ObservedGeneration = pod.Generation
		next.LastTransitionTime = metav1.NewTime(c.clock.Now())
		for _, old := range pod.Status.Conditions {
			if old.Type == next.Type && old.Status == next.Status {
				next.LastTransitionTime = old.LastTransitionTime
			}
		}
		status["conditions"] = []corev1.PodCondition{next}
	}
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   status,
	})
}
