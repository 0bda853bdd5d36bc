package core

import (
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// admitPriority does on pod create what upstream's Priority admission plugin
// does: spec.priority and spec.preemptionPolicy come from the PriorityClass
// the pod names (refused if there is none by that name), else from the
// cluster's globalDefault class, else priority 0 and PreemptLowerPriority. A
// pod may carry a priority or policy only if it equals the computed one.
func admitPriority(v apiserver.View, pod *corev1.Pod) error {
	classes := v.List(schedulingv1.SchemeGroupVersion.String(), "priorityclasses")
	var pc *schedulingv1.PriorityClass
	if name := pod.Spec.PriorityClassName; name != "" {
		if pc = findPriorityClass(classes, name); pc == nil {
			return podForbidden(pod, "no PriorityClass with name %v was found", name)
		}
	} else if pc = defaultPriorityClass(classes); pc != nil {
		pod.Spec.PriorityClassName = pc.Name
	}
	priority, policy := int32(0), ptr.To(corev1.PreemptLowerPriority)
	if pc != nil {
		priority, policy = pc.Value, pc.PreemptionPolicy
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != priority {
		return podForbidden(pod, "the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, priority)
	}
	pod.Spec.Priority = &priority
	if policy != nil {
		if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != *policy {
			return podForbidden(pod, "the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, *policy)
		}
		pod.Spec.PreemptionPolicy = ptr.To(*policy)
	}
	return nil
}

// keepPriority is the plugin's part on pod update: a client that sends the
// pod back without the priority fields admission set keeps them (validation
// refuses any other change to them).
func keepPriority(pod, old *corev1.Pod) {
	if pod.Spec.Priority == nil {
		pod.Spec.Priority = old.Spec.Priority
	}
	if pod.Spec.PreemptionPolicy == nil {
		pod.Spec.PreemptionPolicy = old.Spec.PreemptionPolicy
	}
}

func findPriorityClass(classes []runtime.Object, name string) *schedulingv1.PriorityClass {
	for _, obj := range classes {
		if pc, ok := obj.(*schedulingv1.PriorityClass); ok && pc.Name == name {
			return pc
		}
	}
	return nil
}

// defaultPriorityClass is the globalDefault class; should a race have made
// two, the one of lower value, as upstream picks.
func defaultPriorityClass(classes []runtime.Object) *schedulingv1.PriorityClass {
	var best *schedulingv1.PriorityClass
	for _, obj := range classes {
		if pc, ok := obj.(*schedulingv1.PriorityClass); ok && pc.GlobalDefault && (best == nil || pc.Value < best.Value) {
			best = pc
		}
	}
	return best
}
