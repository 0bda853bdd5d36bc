package statefulset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// claimPods returns the pods the set controls after adopting the orphans that
// its selector matches and whose names make them its members, and releasing
// the pods it controls that no longer match. A set being deleted adopts and
// releases nothing.
func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*corev1.Pod, error) {
	owned, _ := c.podsIdx.ByIndex(ownerIndex, "uid/"+string(set.UID))
	orphans, _ := c.podsIdx.ByIndex(ownerIndex, "orphan/"+set.Namespace)
	deleting := set.DeletionTimestamp != nil
	var (
		claimed []*corev1.Pod
		errs    []error
		checked bool
		canErr  error
	)
	for _, obj := range owned {
		pod := obj.(*corev1.Pod)
		if pod.Namespace != set.Namespace {
			continue
		}
		if selector.Matches(labels.Set(pod.Labels)) && isMember(set, pod) {
			claimed = append(claimed, pod)
			continue
		}
		if !deleting {
			if err := c.patchPodOwner(ctx, pod, map[string]any{"$patch": "delete", "uid": set.UID}); err != nil && !isNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, err)
			}
		}
	}
	if deleting {
		return claimed, errors.Join(errs...)
	}
	for _, obj := range orphans {
		pod := obj.(*corev1.Pod)
		if pod.DeletionTimestamp != nil || !selector.Matches(labels.Set(pod.Labels)) || !isMember(set, pod) {
			continue
		}
		if !checked {
			canErr, checked = c.canAdopt(ctx, set), true
		}
		if canErr != nil {
			errs = append(errs, fmt.Errorf("can't adopt pod %s/%s: %w", pod.Namespace, pod.Name, canErr))
			continue
		}
		ref := metav1.NewControllerRef(set, statefulSetKind)
		err := c.patchPodOwner(ctx, pod, map[string]any{
			"apiVersion": ref.APIVersion, "kind": ref.Kind, "name": ref.Name, "uid": ref.UID,
			"controller": true, "blockOwnerDeletion": true,
		})
		if err != nil {
			if !isNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		claimed = append(claimed, pod)
	}
	return claimed, errors.Join(errs...)
}

// canAdopt checks, with a live read, that the set is still the one in the
// cache and is not being deleted.
func (c *Controller) canAdopt(ctx context.Context, set *appsv1.StatefulSet) error {
	fresh, err := c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if fresh.UID != set.UID {
		return fmt.Errorf("original StatefulSet %s/%s is gone: got uid %s, wanted %s", set.Namespace, set.Name, fresh.UID, set.UID)
	}
	if fresh.DeletionTimestamp != nil {
		return fmt.Errorf("%s/%s has just been deleted at %v", set.Namespace, set.Name, fresh.DeletionTimestamp)
	}
	return nil
}

// patchPodOwner merges one ownerReference entry into the pod's; the uid in the
// patch makes the API server refuse it if the pod was replaced under its name.
func (c *Controller) patchPodOwner(ctx context.Context, pod *corev1.Pod, ref map[string]any) error {
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":             pod.UID,
		"ownerReferences": []map[string]any{ref},
	}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("patching ownerReferences of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
