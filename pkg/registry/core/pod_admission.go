package core

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// admitPod is pod create's mutating admission (apiserver.Resource.Admit,
// after defaulting and before naming and validation): the plugins of a
// default kube-apiserver that read other objects, in upstream's order,
// LimitRanger's defaults, ServiceAccount (when the
// server runs it), Priority, RuntimeClass. The QoS class is computed
// after it, from the admitted spec.
func admitPod(serviceAccounts bool) func(ctx context.Context, v apiserver.View, obj runtime.Object) error {
	return func(ctx context.Context, v apiserver.View, obj runtime.Object) error {
		pod := obj.(*corev1.Pod)
		applyLimitRangeDefaults(pod, limitRangesIn(v, pod.Namespace))
		if serviceAccounts {
			if err := admitServiceAccount(ctx, v, pod); err != nil {
				return err
			}
		}
		if err := admitPriority(v, pod); err != nil {
			return err
		}
		return admitRuntimeClass(ctx, v, pod)
	}
}

// checkPod is pod create's validating admission (BeforeCreate, after
// validation): LimitRanger's bounds against the pod as admitted.
func checkPod(_ context.Context, v apiserver.View, obj runtime.Object) error {
	pod := obj.(*corev1.Pod)
	if err := checkLimitRanges(pod, limitRangesIn(v, pod.Namespace)); err != nil {
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
