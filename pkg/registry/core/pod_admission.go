package core

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/api/validation"
	"github.com/skiffhq/skiff/pkg/apiserver"
)

// admitPod runs on pod create the admission plugins of a default
// kube-apiserver that read other objects, in upstream's order: the mutating
// halves (LimitRanger, Priority, RuntimeClass), then, since the pod may have
// changed after it was validated, validation again, then LimitRanger's
// checks against the pod as admitted.
func admitPod(ctx context.Context, v apiserver.View, obj runtime.Object) error {
	pod := obj.(*corev1.Pod)
	ranges := limitRangesIn(v, pod.Namespace)
	defaulted := applyLimitRangeDefaults(pod, ranges)
	if err := admitPriority(v, pod); err != nil {
		return err
	}
	if err := admitRuntimeClass(ctx, v, pod); err != nil {
		return err
	}
	if defaulted {
		// Upstream classifies the pod after admission.
		pod.Status.QOSClass = validation.PodQOSClass(&pod.Spec)
		if errs := validation.ValidatePod(pod); len(errs) > 0 {
			return apierrors.NewInvalid(v1.WithKind("Pod").GroupKind(), pod.Name, errs)
		}
	}
	if err := checkLimitRanges(pod, ranges); err != nil {
		return podForbidden(pod, "%w", err)
	}
	return nil
}

// admitPodUpdate is admission's part in a pod update: Priority keeps what it
// set at create.
func admitPodUpdate(_ context.Context, _ apiserver.View, obj, old runtime.Object) error {
	keepPriority(obj.(*corev1.Pod), old.(*corev1.Pod))
	return nil
}
