package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// refsPatch is a strategic merge patch of ownerReferences (merged by uid); the
// object's own uid makes the server refuse it if the name now holds another object.
type refsPatch struct {
	Metadata struct {
		OwnerReferences []map[string]any `json:"ownerReferences"`
		UID             types.UID        `json:"uid"`
	} `json:"metadata"`
}

func removeRefsPatch(self types.UID, owners []types.UID) []byte {
	var p refsPatch
	p.Metadata.UID = self
	for _, u := range owners {
		p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, map[string]any{"$patch": "delete", "uid": u})
	}
	data, _ := json.Marshal(p)
	return data
}

// unblockRefsPatch sets blockOwnerDeletion=false on every reference that blocks.
func unblockRefsPatch(m metav1.Object) []byte {
	var p refsPatch
	p.Metadata.UID = m.GetUID()
	for _, r := range m.GetOwnerReferences() {
		if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, map[string]any{"uid": r.UID, "blockOwnerDeletion": false})
		}
	}
	if len(p.Metadata.OwnerReferences) == 0 {
		return nil
	}
	data, _ := json.Marshal(p)
	return data
}

func (c *Controller) patch(ctx context.Context, k *kind, m metav1.Object, pt types.PatchType, data []byte) error {
	_, err := c.dyn.Resource(k.GroupVersionResource).Namespace(m.GetNamespace()).Patch(ctx, m.GetName(), pt, data, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patching %s %s/%s: %w", k.Kind, m.GetNamespace(), m.GetName(), err)
	}
	return nil
}

// finalizersPatch is a JSON merge patch of the finalizers, pinned to the
// resourceVersion they were read at so a concurrent change is not lost.
type finalizersPatch struct {
	Metadata struct {
		ResourceVersion string   `json:"resourceVersion"`
		Finalizers      []string `json:"finalizers"`
	} `json:"metadata"`
}

// removeFinalizer takes f off an owner, re-reading it on conflict.
func (c *Controller) removeFinalizer(ctx context.Context, k *kind, m metav1.Object, f string) error {
	api := c.dyn.Resource(k.GroupVersionResource).Namespace(m.GetNamespace())
	cur := m
	for attempt := 0; ; attempt++ {
		if cur.GetUID() != m.GetUID() || !hasFinalizer(cur, f) {
			return nil
		}
		var p finalizersPatch
		p.Metadata.ResourceVersion = cur.GetResourceVersion()
		p.Metadata.Finalizers = slices.DeleteFunc(slices.Clone(cur.GetFinalizers()), func(s string) bool { return s == f })
		data, _ := json.Marshal(p)
		_, err := api.Patch(ctx, m.GetName(), types.MergePatchType, data, metav1.PatchOptions{})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err) || attempt >= 4:
			return fmt.Errorf("removing finalizer %s from %s %s/%s: %w", f, k.Kind, m.GetNamespace(), m.GetName(), err)
		}
		fresh, err := api.Get(ctx, m.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		cur = fresh
	}
}
