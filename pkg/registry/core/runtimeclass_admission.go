package core

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// admitRuntimeClass does on pod create what upstream's RuntimeClass admission
// plugin does: a pod naming a RuntimeClass that does not exist is refused, and
// one that exists adds its overhead to the pod's spec.overhead (what the
// scheduler counts) and its scheduling constraints to the pod's nodeSelector
// and tolerations, so that the pod lands only where its handler is installed.
// A pod may not claim an overhead its RuntimeClass does not define.
//
// It is the pods' BeforeCreate, so it also runs on dry-run creates, as
// upstream's admission does.
func admitRuntimeClass(_ context.Context, v apiserver.View, obj runtime.Object) error {
	pod := obj.(*corev1.Pod)
	var rc *nodev1.RuntimeClass
	if name := pod.Spec.RuntimeClassName; name != nil {
		if rc = findRuntimeClass(v, *name); rc == nil {
			return podForbidden(pod, "pod rejected: RuntimeClass %q not found", *name)
		}
	}
	if rc == nil || rc.Overhead == nil {
		if pod.Spec.Overhead != nil {
			return podForbidden(pod, "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
		}
	} else {
		if len(pod.Spec.Overhead) > 0 && !equality.Semantic.DeepEqual(rc.Overhead.PodFixed, pod.Spec.Overhead) {
			return podForbidden(pod, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
		}
		pod.Spec.Overhead = rc.Overhead.PodFixed.DeepCopy()
	}
	if rc == nil || rc.Scheduling == nil {
		return nil
	}
	for key, want := range rc.Scheduling.NodeSelector {
		if got, ok := pod.Spec.NodeSelector[key]; ok && got != want {
			return podForbidden(pod, "conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", key, want, key, got)
		}
	}
	for key, value := range rc.Scheduling.NodeSelector {
		if pod.Spec.NodeSelector == nil {
			pod.Spec.NodeSelector = map[string]string{}
		}
		pod.Spec.NodeSelector[key] = value
	}
	pod.Spec.Tolerations = mergeTolerations(pod.Spec.Tolerations, rc.Scheduling.Tolerations)
	return nil
}

// findRuntimeClass returns a copy of the named RuntimeClass, or nil. The view
// is the server's cache, which a delete has already reached when it returns,
// so a pod naming a just-deleted class is refused (upstream's plugin falls
// back to a live read for the same reason).
func findRuntimeClass(v apiserver.View, name string) *nodev1.RuntimeClass {
	for _, obj := range v.List(nodev1.SchemeGroupVersion.String(), "runtimeclasses") {
		if rc, ok := obj.(*nodev1.RuntimeClass); ok && rc.Name == name {
			return rc.DeepCopy()
		}
	}
	return nil
}

// podForbidden is upstream's admission error. Admission runs before a
// generated name is chosen, so a pod with none yet is named by its
// generateName.
func podForbidden(pod *corev1.Pod, format string, args ...any) error {
	name := pod.Name
	if name == "" {
		// Admission runs before a generated name is chosen.
		name = pod.GenerateName
	}
	return apierrors.NewForbidden(corev1.Resource("pods"), name, fmt.Errorf(format, args...))
}

// mergeTolerations appends add to have, dropping every toleration that
// another one already covers (the first of two equal ones is kept), as
// upstream merges a RuntimeClass's tolerations into a pod's.
func mergeTolerations(have, add []corev1.Toleration) []corev1.Toleration {
	all := append(append([]corev1.Toleration{}, have...), add...)
	var merged []corev1.Toleration
next:
	for i, t := range all {
		for _, m := range merged {
			if coversToleration(m, t) {
				continue next
			}
		}
		for _, later := range all[i+1:] {
			if !equality.Semantic.DeepEqual(t, later) && coversToleration(later, t) {
				continue next
			}
		}
		merged = append(merged, t)
	}
	return merged
}

// coversToleration reports whether ss tolerates every taint t tolerates, for
// at least as long.
func coversToleration(ss, t corev1.Toleration) bool {
	if equality.Semantic.DeepEqual(ss, t) {
		return true
	}
	// An empty key with Exists tolerates every key.
	if t.Key != ss.Key && (ss.Key != "" || ss.Operator != corev1.TolerationOpExists) {
		return false
	}
	// An empty effect tolerates every effect.
	if t.Effect != ss.Effect && ss.Effect != "" {
		return false
	}
	if ss.Effect == corev1.TaintEffectNoExecute && ss.TolerationSeconds != nil &&
		(t.TolerationSeconds == nil || *t.TolerationSeconds > *ss.TolerationSeconds) {
		return false
	}
	switch ss.Operator {
	case corev1.TolerationOpEqual, "":
		return t.Operator == corev1.TolerationOpEqual && t.Value == ss.Value
	case corev1.TolerationOpExists:
		return true
	}
	return false
}
