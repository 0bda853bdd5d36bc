package agent

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// In-place resize (pods/resize): a change of a running container's CPU or
// memory is applied to its cgroups through the CRI's
// UpdateContainerResources, or by restarting the container when its
// resizePolicy says so. What was applied is what the container's status
// reports (resources, allocatedResources).
//
// The resources a container was created with are in an annotation; those
// applied since live in the worker (appliedResources), so that an agent
// that restarted applies the spec again, which is harmless.

// annotationResources holds the container's resources at creation, as JSON.
const annotationResources = "skiff.io/resources"

// resizable are the resources that can change in place.
var resizable = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

// resizableOf keeps the CPU and memory requests and limits of r, with nil
// lists where there are none (what a status reports).
func resizableOf(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	pick := func(l corev1.ResourceList) corev1.ResourceList {
		var out corev1.ResourceList
		for _, name := range resizable {
			if q, ok := l[name]; ok {
				if out == nil {
					out = corev1.ResourceList{}
				}
				out[name] = q
			}
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: pick(r.Requests), Limits: pick(r.Limits)}
}

func resourcesAnnotation(c *corev1.Container) string {
	b, _ := json.Marshal(resizableOf(c.Resources))
	return string(b)
}

// appliedResources is what a running container's cgroups were last given.
func (w *podWorker) appliedResources(c *containerState) (corev1.ResourceRequirements, bool) {
	if r, ok := w.applied[c.id]; ok {
		return r, true
	}
	var r corev1.ResourceRequirements
	if c.resources == "" || json.Unmarshal([]byte(c.resources), &r) != nil {
		return r, false
	}
	return r, true
}

// resize applies a running container's new CPU and memory, and reports
// whether it restarted the container for it.
func (w *podWorker) resize(ctx context.Context, pod *corev1.Pod, spec *corev1.Container, c *containerState) bool {
	want := resizableOf(spec.Resources)
	have, known := w.appliedResources(c)
	if known && apiequality.Semantic.DeepEqual(want, have) {
		return false
	}
	if known {
		for _, name := range resizable {
			if !sameQuantity(want.Requests, have.Requests, name) || !sameQuantity(want.Limits, have.Limits, name) {
				if restartOnResize(spec, name) {
					if err := w.a.killContainer(ctx, pod, spec, c.id, gracePeriodOf(pod), fmt.Sprintf("Container %s resize requires restart", spec.Name)); err != nil {
						w.log.Error("restarting container to resize it", "container", spec.Name, "err", err)
					}
					w.restartForResize[spec.Name] = true
					w.kick()
					return true
				}
			}
		}
	}
	if _, err := w.a.runtime.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: c.id, Linux: w.a.linuxResources(pod, spec),
	}); err != nil {
		w.log.Error("resizing container", "container", spec.Name, "err", err)
		w.syncAfter(resyncPeriod)
		return false
	}
	if known {
		w.a.event(pod, corev1.EventTypeNormal, "ResizeCompleted", "Pod resize completed: container %s", spec.Name)
	}
	w.applied[c.id] = want
	return false
}

func sameQuantity(a, b corev1.ResourceList, name corev1.ResourceName) bool {
	x, okx := a[name]
	y, oky := b[name]
	return okx == oky && x.Cmp(y) == 0
}

func restartOnResize(spec *corev1.Container, name corev1.ResourceName) bool {
	for _, p := range spec.ResizePolicy {
		if p.ResourceName == name {
			return p.RestartPolicy == corev1.RestartContainer
		}
	}
	return false
}

// resizeInfeasible reports why the pod's requests cannot fit this node at
// all (more than it can allocate), or "" when they can.
func (a *Agent) resizeInfeasible(pod *corev1.Pod) string {
	if a.registered == nil {
		return ""
	}
	alloc := a.registered.Status.Allocatable
	for _, name := range resizable {
		var total int64
		for _, c := range pod.Spec.Containers {
			if q, ok := c.Resources.Requests[name]; ok {
				total += q.MilliValue()
			}
		}
		if q, ok := alloc[name]; ok && total > q.MilliValue() {
			return fmt.Sprintf("Node didn't have enough capacity: %s, requested: %d, capacity: %d", name, total, q.MilliValue())
		}
	}
	return ""
}

// resizeCondition is the PodResizePending condition of a pod whose new
// resources do not fit the node (nil when there is none).
func resizeCondition(pod *corev1.Pod, why string) *corev1.PodCondition {
	if why == "" {
		return nil
	}
	c := &corev1.PodCondition{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: corev1.PodReasonInfeasible,
		Message: why, ObservedGeneration: pod.Generation, LastTransitionTime: metav1.NewTime(timeNow())}
	for _, o := range pod.Status.Conditions {
		if o.Type == c.Type && o.Status == c.Status {
			c.LastTransitionTime = o.LastTransitionTime
		}
	}
	return c
}
