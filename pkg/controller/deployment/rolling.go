package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
)

// rolloutRolling takes one step of a RollingUpdate: grow the new ReplicaSet
// as far as maxSurge allows; if it cannot grow, shrink the old ones as far as
// maxUnavailable allows; once the rollout is complete, clean up old
// revisions. Each step waits for the ReplicaSets' status to move.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	newRS, err := c.ensureNewReplicaSet(ctx, d, newRS, old)
	if err != nil {
		return err
	}
	all := withNew(old, newRS)
	grew, err := c.growNewReplicaSet(ctx, d, all, newRS)
	if err != nil {
		return err
	}
	if !grew {
		shrank, err := c.shrinkOldReplicaSets(ctx, d, all, active(old), newRS)
		if err != nil {
			return err
		}
		if !shrank && complete(d, &d.Status) {
			if err := c.cleanupHistory(ctx, d, old); err != nil {
				return err
			}
		}
	}
	return c.syncRolloutStatus(ctx, d, all, newRS)
}

// growNewReplicaSet scales the new ReplicaSet toward spec.replicas (down to
// it, if the Deployment shrank).
func (c *Controller) growNewReplicaSet(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	switch {
	case size(newRS) == replicas(d):
		return false, nil
	case size(newRS) > replicas(d):
		scaled, _, err := c.scaleReplicaSet(ctx, newRS, replicas(d), d, false)
		return scaled, err
	}
	n, err := newReplicaSetSize(d, all, newRS)
	if err != nil {
		return false, err
	}
	scaled, _, err := c.scaleReplicaSet(ctx, newRS, n, d, false)
	return scaled, err
}

// shrinkOldReplicaSets scales the old ReplicaSets down as far as availability
// allows: never below spec.replicas - maxUnavailable available pods, counting
// the new ReplicaSet's unavailable pods as lost (so that a broken template
// never costs the old pods). Unavailable old pods go first, since removing
// them costs nothing.
func (c *Controller) shrinkOldReplicaSets(ctx context.Context, d *appsv1.Deployment, all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	if specTotal(old) == 0 {
		return false, nil
	}
	minAvailable := replicas(d) - maxUnavailable(d)
	newUnavailable := size(newRS) - newRS.Status.AvailableReplicas
	budget := specTotal(all) - minAvailable - newUnavailable
	if budget <= 0 {
		return false, nil
	}
	sortByAge(old)
	for _, rs := range old {
		if rs.Status.AvailableReplicas > size(rs) {
			// Its status still counts pods it is deleting: counting them as
			// available would take the Deployment below minAvailable. Wait
			// for the ReplicaSet controller to catch up.
			return false, nil
		}
	}
	removed, old, err := c.shrinkUnavailable(ctx, d, old, budget)
	if err != nil {
		return removed > 0, err
	}
	more, err := c.shrinkAvailable(ctx, d, withNew(old, newRS), old)
	return removed+more > 0, err
}

// shrinkUnavailable removes up to budget unavailable pods from the old
// ReplicaSets, oldest first, and returns them as they now are.
func (c *Controller) shrinkUnavailable(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet, budget int32) (int32, []*appsv1.ReplicaSet, error) {
	removed := int32(0)
	for i, rs := range old {
		if removed >= budget {
			break
		}
		unavailable := size(rs) - rs.Status.AvailableReplicas
		if unavailable == 0 {
			continue
		}
		n := min(budget-removed, unavailable)
		_, updated, err := c.scaleReplicaSet(ctx, rs, size(rs)-n, d, false)
		if err != nil {
			return removed, old, err
		}
		removed += n
		old[i] = updated
	}
	return removed, old, nil
}

// shrinkAvailable removes the available pods above spec.replicas -
// maxUnavailable from the old ReplicaSets, oldest first.
func (c *Controller) shrinkAvailable(ctx context.Context, d *appsv1.Deployment, all, old []*appsv1.ReplicaSet) (int32, error) {
	excess := availableTotal(all) - (replicas(d) - maxUnavailable(d))
	removed := int32(0)
	for _, rs := range old {
		if removed >= excess {
			break
		}
		if size(rs) == 0 {
			continue
		}
		n := min(size(rs), excess-removed)
		if _, _, err := c.scaleReplicaSet(ctx, rs, size(rs)-n, d, false); err != nil {
			return removed, err
		}
		removed += n
	}
	return removed, nil
}
