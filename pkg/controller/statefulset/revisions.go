package statefulset

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/controller/claim"
	"github.com/skiffhq/skiff/pkg/controller/history"
)

// revisionData is what a StatefulSet's ControllerRevision holds: a strategic
// merge patch replacing spec.template, which `kubectl rollout undo` applies to
// the StatefulSet. It is built as upstream builds it (the template's JSON as a
// map, "$patch": "replace" added, keys sorted by encoding/json) so that the
// bytes, and so the revision names, are the same.
func revisionData(set *appsv1.StatefulSet) ([]byte, error) {
	b, err := json.Marshal(set.Spec.Template)
	if err != nil {
		return nil, err
	}
	var template map[string]any
	if err := json.Unmarshal(b, &template); err != nil {
		return nil, err
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// newRevision is the revision of set's current template, numbered revision.
func newRevision(set *appsv1.StatefulSet, revision int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	data, err := revisionData(set)
	if err != nil {
		return nil, err
	}
	rev, err := history.New(set, statefulSetKind, set.Spec.Template.Labels, runtime.RawExtension{Raw: data}, revision, collisionCount)
	if err != nil {
		return nil, err
	}
	if len(set.Annotations) > 0 {
		if rev.Annotations == nil {
			rev.Annotations = map[string]string{}
		}
		maps.Copy(rev.Annotations, set.Annotations)
	}
	return rev, nil
}

// templateOf reads the pod template a revision restores. Revisions are written
// as a patch that replaces the whole template, so applying one is reading it.
func templateOf(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	raw := rev.Data.Raw
	if len(raw) == 0 && rev.Data.Object != nil {
		var err error
		if raw, err = json.Marshal(rev.Data.Object); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(raw, &patch); err != nil {
		return nil, fmt.Errorf("controller revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	return &patch.Spec.Template, nil
}

// applyRevision is a copy of set with the template of rev.
func applyRevision(set *appsv1.StatefulSet, rev *appsv1.ControllerRevision) (*appsv1.StatefulSet, error) {
	t, err := templateOf(rev)
	if err != nil {
		return nil, err
	}
	out := set.DeepCopy()
	out.Spec.Template = *t
	return out, nil
}

func nextRevision(sorted []*appsv1.ControllerRevision) int64 {
	if len(sorted) == 0 {
		return 1
	}
	return sorted[len(sorted)-1].Revision + 1
}

// revisions finds (creating or renumbering as needed) the set's current and
// update revisions, and the collision count to record. sorted is the set's
// history, oldest first.
func (c *Controller) revisions(ctx context.Context, set *appsv1.StatefulSet, sorted []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisions int32, err error) {
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	update, err = newRevision(set, nextRevision(sorted), &collisions)
	if err != nil {
		return nil, nil, collisions, err
	}
	equal := history.FindEqual(sorted, update)
	n := len(sorted)
	switch {
	case len(equal) > 0 && history.Equal(sorted[n-1], equal[len(equal)-1]):
		// The template has not changed since the last revision.
		update = sorted[n-1]
	case len(equal) > 0:
		// Back to an older template (a rollback): renumber it as the newest.
		update, err = c.history.UpdateRevision(ctx, equal[len(equal)-1], update.Revision)
		if err != nil {
			return nil, nil, collisions, err
		}
	case n > 0 && sameTemplate(set, sorted[n-1]):
		// Same template, different bytes (serialization drift): no change.
		update = sorted[n-1]
	default:
		update, err = c.history.Create(ctx, set, update, &collisions)
		if err != nil {
			return nil, nil, collisions, err
		}
	}
	for _, r := range sorted {
		if r.Name == set.Status.CurrentRevision {
			current = r
			break
		}
	}
	if current == nil {
		current = update
	}
	return current, update, collisions, nil
}

func sameTemplate(set *appsv1.StatefulSet, rev *appsv1.ControllerRevision) bool {
	t, err := templateOf(rev)
	return err == nil && equality.Semantic.DeepEqual(*t, set.Spec.Template)
}

// truncateHistory deletes the oldest revisions that neither a pod nor the
// status refers to, until at most revisionHistoryLimit of those remain.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, sorted []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{}
	for _, r := range []*appsv1.ControllerRevision{current, update} {
		if r != nil {
			live[r.Name] = true
		}
	}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	var old []*appsv1.ControllerRevision
	for _, r := range sorted {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	if limit < 0 || len(old) <= limit {
		return nil
	}
	for _, r := range old[:len(old)-limit] {
		if err := c.history.Delete(ctx, r); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// adoptRevisions takes the orphan revisions the set's selector matches.
func (c *Controller) adoptRevisions(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) ([]*appsv1.ControllerRevision, error) {
	checked := false
	for i, r := range revs {
		if metav1.GetControllerOfNoCopy(r) != nil {
			continue
		}
		if !checked {
			if err := claim.CanAdopt(ctx, set, statefulSetKind.Kind, c.live(set)); err != nil {
				return nil, fmt.Errorf("can't adopt ControllerRevisions: %w", err)
			}
			checked = true
		}
		adopted, err := c.history.Adopt(ctx, set, statefulSetKind, r)
		if err != nil {
			return nil, err
		}
		revs[i] = adopted
	}
	return revs, nil
}
