package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// claimReplicaSets returns the ReplicaSets the Deployment controls after
// adopting orphans its selector matches and releasing those it controls that
// the selector no longer matches. A Deployment being deleted adopts and
// releases nothing.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s has invalid label selector: %w", d.Namespace, d.Name, err)
	}
	var (
		claimed  []*appsv1.ReplicaSet
		errs     []error
		adoptErr error
		checked  bool
	)
	deleting := d.DeletionTimestamp != nil
	for _, rs := range c.replicaSetsFor(d) {
		matches := selector.Matches(labels.Set(rs.Labels))
		if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
			switch {
			case ref.UID != d.UID:
				// someone else's
			case matches:
				claimed = append(claimed, rs)
			case !deleting:
				if err := c.release(ctx, d, rs); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if deleting || !matches || rs.DeletionTimestamp != nil {
			continue
		}
		if !checked {
			// The cache may hold a Deployment deleted (or replaced) a moment
			// ago: adopting for it would hand ReplicaSets to a ghost.
			adoptErr, checked = c.canAdopt(ctx, d), true
		}
		if adoptErr != nil {
			errs = append(errs, fmt.Errorf("can't adopt ReplicaSet %s/%s (%s): %w", rs.Namespace, rs.Name, rs.UID, adoptErr))
			continue
		}
		if err := c.adopt(ctx, d, rs); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		claimed = append(claimed, rs)
	}
	return claimed, errors.Join(errs...)
}

func (c *Controller) canAdopt(ctx context.Context, d *appsv1.Deployment) error {
	fresh, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if fresh.UID != d.UID {
		return fmt.Errorf("original Deployment %s/%s is gone: got uid %s, wanted %s", d.Namespace, d.Name, fresh.UID, d.UID)
	}
	if fresh.DeletionTimestamp != nil {
		return fmt.Errorf("%s/%s has just been deleted at %v", d.Namespace, d.Name, fresh.DeletionTimestamp)
	}
	return nil
}

// ownerPatch is a strategic merge patch of a ReplicaSet's ownerReferences; its
// uid makes the API server refuse it if the ReplicaSet was replaced under the
// same name.
type ownerPatch struct {
	Metadata struct {
		OwnerReferences []map[string]any `json:"ownerReferences"`
		UID             types.UID        `json:"uid"`
	} `json:"metadata"`
}

func (c *Controller) adopt(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) error {
	ref := metav1.NewControllerRef(d, deploymentKind)
	var p ownerPatch
	p.Metadata.UID = rs.UID
	p.Metadata.OwnerReferences = []map[string]any{{
		"apiVersion": ref.APIVersion, "kind": ref.Kind, "name": ref.Name, "uid": ref.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	return c.patchReplicaSet(ctx, d, rs, p)
}

// release drops the Deployment's reference. NotFound and Invalid (the
// ReplicaSet is gone, or was replaced under its name, or already lost the
// reference) leave nothing to release.
func (c *Controller) release(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) error {
	var p ownerPatch
	p.Metadata.UID = rs.UID
	p.Metadata.OwnerReferences = []map[string]any{{"$patch": "delete", "uid": d.UID}}
	err := c.patchReplicaSet(ctx, d, rs, p)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return err
}

func (c *Controller) patchReplicaSet(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, p ownerPatch) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	patched, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("patching ownerReferences of replica set %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	c.wroteReplicaSet(d, patched)
	return nil
}
