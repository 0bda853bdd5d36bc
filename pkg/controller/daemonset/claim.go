package daemonset

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

// claimPods returns the pods ds controls after adopting the orphans its
// selector matches and releasing its pods whose labels stopped matching.
func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) ([]*corev1.Pod, error) {
	owned := c.podsOf(ds)
	orphans := c.byIndex(ownerIndex, orphanKey(ds.Namespace))
	claimed := make([]*corev1.Pod, 0, len(owned))
	var errs []error
	for _, pod := range owned {
		if pod.Namespace != ds.Namespace || !metav1.IsControlledBy(pod, ds) {
			continue
		}
		if selector.Matches(labels.Set(pod.Labels)) {
			claimed = append(claimed, pod)
			continue
		}
		// Invalid: the pod was replaced under the same name, or already lost the reference.
		if err := c.patchOwner(ctx, pod, releasePatch(pod, ds)); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
			errs = append(errs, err)
		}
	}
	var adoptErr error
	checked := false
	for _, pod := range orphans {
		if pod.Namespace != ds.Namespace || pod.DeletionTimestamp != nil || !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		if !checked {
			// The cache may hold a DaemonSet deleted a moment ago; adopting
			// for it would hand pods to a ghost.
			adoptErr, checked = c.canAdopt(ctx, ds), true
		}
		if adoptErr != nil {
			errs = append(errs, adoptErr)
			break
		}
		if err := c.patchOwner(ctx, pod, adoptPatch(pod, ds)); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		claimed = append(claimed, pod)
	}
	return claimed, errors.Join(errs...)
}

func (c *Controller) canAdopt(ctx context.Context, ds *appsv1.DaemonSet) error {
	fresh, err := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if fresh.UID != ds.UID {
		return fmt.Errorf("original DaemonSet %s/%s is gone: got uid %s, wanted %s", ds.Namespace, ds.Name, fresh.UID, ds.UID)
	}
	if fresh.DeletionTimestamp != nil {
		return fmt.Errorf("DaemonSet %s/%s (uid %s) is being deleted: it adopts nothing", ds.Namespace, ds.Name, ds.UID)
	}
	return nil
}

// ownerPatch is a strategic merge patch of a pod's ownerReferences; its uid
// makes the API server refuse it if the pod was replaced under the same name.
type ownerPatch struct {
	Metadata struct {
		OwnerReferences []map[string]any `json:"ownerReferences"`
		UID             types.UID        `json:"uid"`
	} `json:"metadata"`
}

func adoptPatch(pod *corev1.Pod, ds *appsv1.DaemonSet) ownerPatch {
	var p ownerPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]any{{
		"apiVersion": daemonSetKind.GroupVersion().String(), "kind": daemonSetKind.Kind,
		"name": ds.Name, "uid": ds.UID, "controller": true, "blockOwnerDeletion": true,
	}}
	return p
}

func releasePatch(pod *corev1.Pod, ds *appsv1.DaemonSet) ownerPatch {
	var p ownerPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]any{{"$patch": "delete", "uid": ds.UID}}
	return p
}

func (c *Controller) patchOwner(ctx context.Context, pod *corev1.Pod, p ownerPatch) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("patching ownerReferences of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
