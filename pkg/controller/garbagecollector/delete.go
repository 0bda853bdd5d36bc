package garbagecollector

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// errChanged asks for another look once the caches catch up.
var errChanged = errors.New("object changed since it was examined")

// processDelete decides the fate of one object: an owner in foreground
// deletion waits for (and prods) its blocking dependents; a dependent loses its
// references to absent owners, or is deleted when no owner remains.
func (c *Controller) processDelete(ctx context.Context, it item) error {
	k := c.kinds[it.kind]
	m := c.cached(k, it)
	if m == nil {
		return nil // gone already
	}
	if m.GetDeletionTimestamp() != nil {
		if deletingDependents(m) {
			return c.processDeletingDependents(ctx, k, m)
		}
		return nil // on its way out
	}
	refs := m.GetOwnerReferences()
	if len(refs) == 0 {
		return nil
	}
	var solid, dangling, waiting []metav1.OwnerReference
	for _, ref := range refs {
		st, err := c.ownerState(ctx, k, m, ref)
		if err != nil {
			return err
		}
		switch st {
		case ownerSolid:
			solid = append(solid, ref)
		case ownerDangling:
			dangling = append(dangling, ref)
		case ownerWaiting:
			waiting = append(waiting, ref)
		}
	}
	var deps []dependent
	if len(solid) == 0 && len(waiting) > 0 {
		deps = c.dependents(m.GetUID())
	}
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// It stays, with references only to the owners that stay.
		var uids []types.UID
		for _, r := range append(dangling, waiting...) {
			uids = append(uids, r.UID)
		}
		return c.patch(ctx, k, m, types.StrategicMergePatchType, removeRefsPatch(m.GetUID(), uids))
	case len(deps) > 0:
		// An owner waits for this object, which has dependents of its own: it
		// goes in the foreground too, so the wait covers the whole tree.
		for _, d := range deps {
			if deletingDependents(d.obj) {
				// Two objects waiting on each other would never finish: stop this
				// one from blocking its owners.
				if p := unblockRefsPatch(m); p != nil {
					if err := c.patch(ctx, k, m, types.StrategicMergePatchType, p); err != nil {
						return err
					}
				}
				break
			}
		}
		return c.deleteObject(ctx, k, m, metav1.DeletePropagationForeground)
	default:
		// No owner remains: delete it, keeping the propagation it asked for.
		policy := metav1.DeletePropagationBackground
		switch {
		case hasFinalizer(m, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case hasFinalizer(m, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return c.deleteObject(ctx, k, m, policy)
	}
}

// processDeletingDependents handles an owner deleted in the foreground: once no
// dependent blocks it, its foregroundDeletion finalizer goes (and with it the
// owner); until then its blocking dependents are pushed towards deletion.
func (c *Controller) processDeletingDependents(ctx context.Context, k *kind, owner metav1.Object) error {
	var blocking []dependent
	for _, d := range c.dependents(owner.GetUID()) {
		if ref := refTo(d.obj, owner.GetUID()); ref != nil && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			blocking = append(blocking, d)
		}
	}
	if len(blocking) == 0 {
		return c.removeFinalizer(ctx, k, owner, metav1.FinalizerDeleteDependents)
	}
	for _, d := range blocking {
		if d.obj.GetDeletionTimestamp() == nil {
			c.attemptToDelete.Add(d.item)
		}
	}
	// Each dependent's deletion event queues the owner again.
	return nil
}

func (c *Controller) cached(k *kind, it item) metav1.Object {
	key := it.name
	if k.Namespaced {
		key = it.namespace + "/" + it.name
	}
	obj, exists, err := k.informer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil
	}
	m := accessor(obj)
	if m == nil || m.GetUID() != it.uid {
		return nil
	}
	return m
}

type ownerState int

const (
	ownerSolid    ownerState = iota // exists and is not waiting for dependents
	ownerDangling                   // gone (or replaced by another object of the same name)
	ownerWaiting                    // being deleted in the foreground
)

// ownerState classifies what a reference points at. An owner missing from the
// caches is confirmed absent with a live read before it counts as gone.
func (c *Controller) ownerState(ctx context.Context, dk *kind, dep metav1.Object, ref metav1.OwnerReference) (ownerState, error) {
	if owner, ok := c.cachedOwner(dk, dep, ref); ok {
		return stateOf(owner), nil
	}
	ownerKind := c.kindOf(ref)
	if ownerKind == nil {
		return ownerSolid, nil // cannot be looked up: never collect on its account
	}
	if _, valid := ownerKey(ownerKind, dk, dep.GetNamespace(), ref.Name); !valid {
		return ownerDangling, nil
	}
	if c.absent.has(ref.UID) {
		return ownerDangling, nil
	}
	ns := ""
	if ownerKind.Namespaced {
		ns = dep.GetNamespace()
	}
	live, err := c.dyn.Resource(ownerKind.GroupVersionResource).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.absent.add(ref.UID)
		return ownerDangling, nil
	}
	if err != nil {
		return 0, fmt.Errorf("looking up owner %s %s/%s: %w", ref.Kind, ns, ref.Name, err)
	}
	if live.GetUID() != ref.UID {
		c.absent.add(ref.UID)
		return ownerDangling, nil
	}
	return stateOf(live), nil
}

func stateOf(owner metav1.Object) ownerState {
	if deletingDependents(owner) {
		return ownerWaiting
	}
	return ownerSolid
}

// deleteObject deletes m as the collector saw it: if it changed since (a new
// owner, perhaps), the change must be looked at first.
func (c *Controller) deleteObject(ctx context.Context, k *kind, m metav1.Object, policy metav1.DeletionPropagation) error {
	uid, rv := m.GetUID(), m.GetResourceVersion()
	opts := metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid, ResourceVersion: &rv},
		PropagationPolicy: &policy,
	}
	api := c.dyn.Resource(k.GroupVersionResource).Namespace(m.GetNamespace())
	err := api.Delete(ctx, m.GetName(), opts)
	if apierrors.IsConflict(err) {
		// Only its resourceVersion may have moved (a status write): delete it
		// anyway if its owners are still the ones judged absent.
		latest, gerr := api.Get(ctx, m.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(gerr):
			return nil
		case gerr != nil:
			return gerr
		case latest.GetUID() != uid:
			return nil
		case !ownerRefsEqual(latest.GetOwnerReferences(), m.GetOwnerReferences()):
			return errChanged
		}
		opts.Preconditions.ResourceVersion = nil
		err = api.Delete(ctx, m.GetName(), opts)
	}
	if err == nil || apierrors.IsNotFound(err) {
		if err == nil {
			c.log.Debug("deleted", "resource", k.GroupVersionResource, "namespace", m.GetNamespace(), "name", m.GetName(), "propagation", policy)
		}
		return nil
	}
	if apierrors.IsConflict(err) {
		return errChanged
	}
	return fmt.Errorf("deleting %s %s/%s: %w", k.Kind, m.GetNamespace(), m.GetName(), err)
}
