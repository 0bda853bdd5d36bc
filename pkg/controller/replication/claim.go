package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// claimPods returns the pods the set controls after adopting matching orphans
// and releasing owned pods whose labels no longer match.
func (c *Controller) claimPods(ctx context.Context, s set, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var (
		claimed  []*corev1.Pod
		errs     []error
		adoptErr error
		checked  bool
	)
	m := s.meta()
	deleting := m.DeletionTimestamp != nil
	for _, pod := range pods {
		matches := selector.Matches(labels.Set(pod.Labels))
		if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
			if ref.UID != m.UID {
				continue // someone else's
			}
			if matches {
				claimed = append(claimed, pod)
				continue
			}
			if deleting {
				continue // the garbage collector takes it from here
			}
			// Invalid means the pod was replaced under the same name, or
			// already lost the reference: nothing left to release.
			if err := c.release(ctx, m, pod); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, err)
			}
			continue
		}
		if deleting || !matches || pod.DeletionTimestamp != nil {
			continue
		}
		if !checked {
			// The cache may hold a set that was deleted (or replaced) a moment
			// ago; adopting for it would hand pods to a ghost.
			adoptErr, checked = c.canAdopt(ctx, m), true
		}
		if adoptErr != nil {
			errs = append(errs, adoptErr)
			continue
		}
		if err := c.adopt(ctx, m, pod); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		claimed = append(claimed, pod)
	}
	return claimed, errors.Join(errs...)
}

func (c *Controller) canAdopt(ctx context.Context, m *metav1.ObjectMeta) error {
	s, err := c.kind.fetch(ctx, m.Namespace, m.Name)
	if err != nil {
		return err
	}
	kind := c.info.gvk.Kind
	if fresh := s.meta(); fresh.UID != m.UID {
		return fmt.Errorf("%s %s/%s: original object (UID %s) is gone, now UID %s", kind, m.Namespace, m.Name, m.UID, fresh.UID)
	} else if fresh.DeletionTimestamp != nil {
		return fmt.Errorf("%s %s/%s (UID %s) is being deleted: it adopts nothing", kind, m.Namespace, m.Name, m.UID)
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

func (c *Controller) adopt(ctx context.Context, owner *metav1.ObjectMeta, pod *corev1.Pod) error {
	ref := metav1.NewControllerRef(owner, c.info.gvk)
	var p ownerPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]any{{
		"apiVersion": ref.APIVersion, "kind": ref.Kind, "name": ref.Name, "uid": ref.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	return c.patchPod(ctx, pod, p)
}

func (c *Controller) release(ctx context.Context, owner *metav1.ObjectMeta, pod *corev1.Pod) error {
	var p ownerPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]any{{"$patch": "delete", "uid": owner.UID}}
	return c.patchPod(ctx, pod, p)
}

func (c *Controller) patchPod(ctx context.Context, pod *corev1.Pod, p ownerPatch) error {
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
