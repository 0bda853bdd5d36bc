package daemonset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/history"
)

// templatePatch is what a DaemonSet's ControllerRevision holds: a strategic
// merge patch that puts its pod template back. It is byte for byte what
// upstream (and kubectl, to tell whether `rollout undo` has anything to do)
// computes: the template's JSON with sorted keys and "$patch": "replace".
func templatePatch(ds *appsv1.DaemonSet) ([]byte, error) {
	raw, err := json.Marshal(&ds.Spec.Template)
	if err != nil {
		return nil, err
	}
	var template map[string]any
	if err := json.Unmarshal(raw, &template); err != nil {
		return nil, err
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// constructHistory claims ds's revisions, finds the one of its current
// template (creating it, or renumbering it as the newest) and returns the
// others. The DaemonSet comes back too: updated when a hash collision was
// recorded in its status.
func (c *Controller) constructHistory(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) (
	_ *appsv1.DaemonSet, cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	revs, err := c.claimRevisions(ctx, ds, selector)
	if err != nil {
		return ds, nil, nil, err
	}
	patch, err := templatePatch(ds)
	if err != nil {
		return ds, nil, nil, err
	}
	var current []*appsv1.ControllerRevision
	for _, rev := range revs {
		if _, ok := rev.Labels[hashLabel]; !ok {
			// Every revision carries the hash its pods are labelled with.
			if rev, err = c.labelRevision(ctx, rev); err != nil {
				return ds, nil, nil, err
			}
		}
		if bytes.Equal(rev.Data.Raw, patch) {
			current = append(current, rev)
		} else {
			old = append(old, rev)
		}
	}
	next := maxRevision(old) + 1
	if len(current) == 0 {
		ds, cur, err = c.snapshot(ctx, ds, patch, next)
		return ds, cur, old, err
	}
	cur, err = c.dedupCurrent(ctx, ds, selector, current)
	if err != nil {
		return ds, nil, nil, err
	}
	if cur.Revision < next {
		if cur, err = c.revisions.UpdateRevision(ctx, cur, next); err != nil {
			return ds, nil, nil, err
		}
	}
	return ds, cur, old, nil
}

// claimRevisions returns the revisions ds controls after adopting the
// orphans its selector matches and releasing its own that stopped matching.
func (c *Controller) claimRevisions(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := c.revisions.List(ds, labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	var errs []error
	var adoptErr error
	checked := false
	for _, rev := range all {
		matches := selector.Matches(labels.Set(rev.Labels))
		if metav1.IsControlledBy(rev, ds) {
			if matches {
				out = append(out, rev)
			} else if _, err := c.revisions.Release(ctx, ds, rev); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !matches || rev.DeletionTimestamp != nil || metav1.GetControllerOfNoCopy(rev) != nil {
			continue
		}
		if !checked {
			adoptErr, checked = claim.CanAdopt(ctx, ds, daemonSetKind.Kind, c.live(ds)), true
		}
		if adoptErr != nil {
			errs = append(errs, adoptErr)
			break
		}
		adopted, err := c.revisions.Adopt(ctx, ds, daemonSetKind, rev)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		out = append(out, adopted)
	}
	return out, errors.Join(errs...)
}

// labelRevision gives a revision without it the controller-revision-hash
// label: the hash in its name.
func (c *Controller) labelRevision(ctx context.Context, rev *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	h := rev.Labels[history.HashLabel]
	if h == "" {
		h = rev.Name[strings.LastIndex(rev.Name, "-")+1:]
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{hashLabel: h}}})
	if err != nil {
		return nil, err
	}
	return c.client.AppsV1().ControllerRevisions(rev.Namespace).Patch(ctx, rev.Name, types.MergePatchType, patch, metav1.PatchOptions{})
}

// snapshot records ds's current template as revision number n. A name taken
// by another template bumps status.collisionCount, which ds comes back with.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, patch []byte, n int64) (*appsv1.DaemonSet, *appsv1.ControllerRevision, error) {
	collisions := ptr.Deref(ds.Status.CollisionCount, 0)
	rev, err := history.New(ds, daemonSetKind, ds.Spec.Template.Labels, runtime.RawExtension{Raw: patch}, n, &collisions)
	if err != nil {
		return ds, nil, err
	}
	rev.Annotations = maps.Clone(ds.Annotations) // the change-cause that `rollout history` shows
	rev.Labels[hashLabel] = rev.Labels[history.HashLabel]
	created, err := c.revisions.Create(ctx, ds, rev, &collisions)
	if collisions != ptr.Deref(ds.Status.CollisionCount, 0) {
		updated := ds.DeepCopy()
		updated.Status.CollisionCount = ptr.To(collisions)
		fresh, uerr := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if uerr != nil {
			return ds, nil, errors.Join(err, fmt.Errorf("recording a revision hash collision: %w", uerr))
		}
		c.log.Info("found a revision hash collision; bumped collisionCount", "daemonset", keyOf(ds), "collisionCount", collisions)
		ds = fresh
	}
	if err != nil {
		return ds, nil, fmt.Errorf("creating revision %d: %w", n, err)
	}
	if created.Labels[hashLabel] != created.Labels[history.HashLabel] {
		// Created under a later name than the first one tried.
		if created, err = c.labelRevision(ctx, withoutHashLabel(created)); err != nil {
			return ds, nil, err
		}
	}
	return ds, created, nil
}

func withoutHashLabel(rev *appsv1.ControllerRevision) *appsv1.ControllerRevision {
	rev = rev.DeepCopy()
	delete(rev.Labels, hashLabel)
	return rev
}

// dedupCurrent keeps the newest of several revisions of the current template:
// it relabels the pods of the others, then deletes them.
func (c *Controller) dedupCurrent(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector,
	current []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	if len(current) == 1 {
		return current[0], nil
	}
	keep := current[0]
	for _, rev := range current[1:] {
		if rev.Revision >= keep.Revision {
			keep = rev
		}
	}
	h := keep.Labels[hashLabel]
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{hashLabel: h}}})
	if err != nil {
		return nil, err
	}
	for _, pod := range c.ownPods(ds, selector) {
		if pod.Labels[hashLabel] == h {
			continue
		}
		if _, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	for _, rev := range current {
		if rev.Name == keep.Name {
			continue
		}
		if err := c.revisions.Delete(ctx, rev); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return keep, nil
}

func maxRevision(revs []*appsv1.ControllerRevision) int64 {
	var n int64
	for _, r := range revs {
		n = max(n, r.Revision)
	}
	return n
}

// cleanupHistory deletes the oldest revisions beyond revisionHistoryLimit
// that no pod (not even a finished one) is of.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod, old []*appsv1.ControllerRevision) error {
	limit := int(ptr.Deref(ds.Spec.RevisionHistoryLimit, 10))
	excess := len(old) - limit
	if excess <= 0 {
		return nil
	}
	live := map[string]bool{}
	for _, pod := range pods {
		if h := pod.Labels[hashLabel]; h != "" {
			live[h] = true
		}
	}
	sorted := append([]*appsv1.ControllerRevision(nil), old...)
	history.Sort(sorted)
	for _, rev := range sorted {
		if excess == 0 {
			break
		}
		if live[rev.Labels[hashLabel]] {
			continue
		}
		if err := c.revisions.Delete(ctx, rev); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		excess--
	}
	return nil
}
