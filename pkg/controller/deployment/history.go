package deployment

import (
	"context"
	"fmt"
	"math"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cleanupHistory deletes the oldest revisions beyond revisionHistoryLimit:
// only old ReplicaSets that are empty, that their controller has seen scaled
// to 0, and that are not already being deleted.
func (c *Controller) cleanupHistory(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	limit := d.Spec.RevisionHistoryLimit
	if limit == nil || *limit == math.MaxInt32 {
		return nil // keep every revision
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	excess := len(alive) - int(*limit)
	if excess <= 0 {
		return nil
	}
	sortByRevision(alive)
	for _, rs := range alive[:excess] {
		if rs.Status.Replicas != 0 || size(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			// Stop at the first failure rather than pile more on the server.
			return fmt.Errorf("deleting old replica set %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	return nil
}

// sortByRevision orders ReplicaSets by revision, oldest first; by age where
// revisions are equal or unreadable.
func sortByRevision(list []*appsv1.ReplicaSet) {
	sort.SliceStable(list, func(i, j int) bool {
		a, errA := revision(list[i].Annotations)
		b, errB := revision(list[j].Annotations)
		if errA != nil || errB != nil || a == b {
			return olderThan(list[i], list[j])
		}
		return a < b
	})
}
