// Package claim adopts and releases the objects a control loop owns (pods,
// ReplicaSets): it adopts the orphans its owner wants and releases the
// objects the owner controls but stopped wanting, by patching their
// ownerReferences. Each patch names the object's uid, so the API server
// refuses it if the object was replaced under the same name. It must not read
// caches: the caller says which objects are candidates, and which it wants.
package claim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Claimer claims objects of one kind for one owner, as upstream's
// ControllerRefManager.
type Claimer[T metav1.Object] struct {
	// Owner is the owner as the cache has it.
	Owner metav1.Object
	// Kind is the owner's kind, written into the ownerReferences it adopts with.
	Kind schema.GroupVersionKind
	// Wants reports whether the owner wants an object: its selector matches,
	// and whatever else the kind asks.
	Wants func(T) bool
	// Get reads the owner from the API server, not the cache: before the
	// first adoption the owner must still be the same object and not being
	// deleted, or the adopted would go to a ghost.
	Get func(context.Context) (metav1.Object, error)
	// Patch sends a strategic merge patch to an object.
	Patch func(ctx context.Context, obj T, patch []byte) error
	// Finalizers are added to what is adopted and dropped from what is released.
	Finalizers []string
}

// Claim returns the candidates the owner controls once it has adopted the
// orphans it wants and released those it controls and no longer wants. An
// owner being deleted adopts and releases nothing (the garbage collector takes
// it from there). Candidates controlled by another owner, or in another
// namespace, are passed over.
func (c *Claimer[T]) Claim(ctx context.Context, candidates ...[]T) ([]T, error) {
	var (
		claimed  []T
		errs     []error
		adoptErr error
		checked  bool
	)
	deleting := c.Owner.GetDeletionTimestamp() != nil
	uid, ns := c.Owner.GetUID(), c.Owner.GetNamespace()
	for _, list := range candidates {
		for _, obj := range list {
			if obj.GetNamespace() != ns {
				continue
			}
			wanted := c.Wants(obj)
			if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
				switch {
				case ref.UID != uid: // someone else's
				case wanted:
					claimed = append(claimed, obj)
				case !deleting:
					// Invalid means the object was replaced under the same
					// name, or already lost the reference: nothing to release.
					if err := c.release(ctx, obj); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
						errs = append(errs, err)
					}
				}
				continue
			}
			if deleting || !wanted || obj.GetDeletionTimestamp() != nil {
				continue
			}
			if !checked {
				if adoptErr, checked = c.canAdopt(ctx), true; adoptErr != nil {
					errs = append(errs, adoptErr)
				}
			}
			if adoptErr != nil {
				continue
			}
			if err := c.adopt(ctx, obj); err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
				continue
			}
			claimed = append(claimed, obj)
		}
	}
	return claimed, errors.Join(errs...)
}

func (c *Claimer[T]) canAdopt(ctx context.Context) error {
	return CanAdopt(ctx, c.Owner, c.Kind.Kind, c.Get)
}

// CanAdopt checks, with get's live read, that owner (as a cache has it) is
// still the same object and is not being deleted: a cache may hold an owner
// deleted or replaced a moment ago, and what it adopted would go to a ghost.
func CanAdopt(ctx context.Context, owner metav1.Object, kind string, get func(context.Context) (metav1.Object, error)) error {
	ns, name, uid := owner.GetNamespace(), owner.GetName(), owner.GetUID()
	fresh, err := get(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("%s %s/%s: can't adopt: %w", kind, ns, name, err)
	case fresh.GetUID() != uid:
		return fmt.Errorf("%s %s/%s: original object (UID %s) is gone, now UID %s: it adopts nothing", kind, ns, name, uid, fresh.GetUID())
	case fresh.GetDeletionTimestamp() != nil:
		return fmt.Errorf("%s %s/%s (UID %s) is being deleted: it adopts nothing", kind, ns, name, uid)
	}
	return nil
}

// patch is a strategic merge patch of an object's ownerReferences and
// finalizers. Its uid makes the API server refuse it if the object was
// replaced under the same name.
type patch struct {
	Metadata struct {
		UID             types.UID        `json:"uid"`
		OwnerReferences []map[string]any `json:"ownerReferences"`
		Finalizers      []string         `json:"finalizers,omitempty"`
		DropFinalizers  []string         `json:"$deleteFromPrimitiveList/finalizers,omitempty"`
	} `json:"metadata"`
}

// AdoptPatch is the strategic merge patch that makes owner (of kind gvk) the
// controller of obj and adds finalizers to it.
func AdoptPatch(owner metav1.Object, gvk schema.GroupVersionKind, obj metav1.Object, finalizers ...string) ([]byte, error) {
	ref := metav1.NewControllerRef(owner, gvk)
	var p patch
	p.Metadata.UID = obj.GetUID()
	p.Metadata.OwnerReferences = []map[string]any{{
		"apiVersion": ref.APIVersion, "kind": ref.Kind, "name": ref.Name, "uid": ref.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	p.Metadata.Finalizers = finalizers
	return json.Marshal(p)
}

// ReleasePatch is the strategic merge patch that removes the reference to
// owner from obj, and finalizers.
func ReleasePatch(owner types.UID, obj metav1.Object, finalizers ...string) ([]byte, error) {
	var p patch
	p.Metadata.UID = obj.GetUID()
	p.Metadata.OwnerReferences = []map[string]any{{"$patch": "delete", "uid": owner}}
	p.Metadata.DropFinalizers = finalizers
	return json.Marshal(p)
}

func (c *Claimer[T]) adopt(ctx context.Context, obj T) error {
	data, err := AdoptPatch(c.Owner, c.Kind, obj, c.Finalizers...)
	if err != nil {
		return err
	}
	return c.Patch(ctx, obj, data)
}

func (c *Claimer[T]) release(ctx context.Context, obj T) error {
	data, err := ReleasePatch(c.Owner.GetUID(), obj, c.Finalizers...)
	if err != nil {
		return err
	}
	return c.Patch(ctx, obj, data)
}

// PodPatcher is a Claimer's Patch for pods.
func PodPatcher(client kubernetes.Interface) func(context.Context, *corev1.Pod, []byte) error {
	return func(ctx context.Context, pod *corev1.Pod, data []byte) error {
		_, err := client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("patching ownerReferences of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		return nil
	}
}
