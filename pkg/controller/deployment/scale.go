package deployment

import (
	"context"
	"fmt"
	"math"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// replicas is a Deployment's spec.replicas (the API server defaults it to 1).
func replicas(d *appsv1.Deployment) int32 { return ptr.Deref(d.Spec.Replicas, 1) }

// size is a ReplicaSet's spec.replicas.
func size(rs *appsv1.ReplicaSet) int32 { return ptr.Deref(rs.Spec.Replicas, 1) }

func isRollingUpdate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// defaultRollingStep is what the API server fills into an empty rollingUpdate.
var defaultRollingStep = intstr.FromString("25%")

// fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded down)
// against desired. Both may round to 0 (validation only refuses both set to 0):
// then one pod may be unavailable, since a surge might be refused by a quota.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	maxSurge, maxUnavailable := &defaultRollingStep, &defaultRollingStep
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		maxSurge, maxUnavailable = ru.MaxSurge, ru.MaxUnavailable
	}
	zero := intstr.FromInt32(0)
	desired := int(replicas(d))
	// Validation refuses values that do not scale, so errors read as 0.
	s, _ := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxSurge, zero), desired, true)
	u, _ := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxUnavailable, zero), desired, false)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

// maxSurge is how many pods a rolling Deployment may run above spec.replicas.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, _ := fenceposts(d)
	return s
}

// maxUnavailable is how many of spec.replicas a rolling Deployment may lack.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || replicas(d) == 0 {
		return 0
	}
	_, u := fenceposts(d)
	return min(u, replicas(d))
}

// newReplicaSetSize is the size the new ReplicaSet may grow to now: the whole
// Deployment for Recreate; for RollingUpdate, as far as maxSurge leaves room
// above the pods every ReplicaSet is asked for, and no further than
// spec.replicas.
func newReplicaSetSize(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, error) {
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return replicas(d), nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		room := replicas(d) + maxSurge(d) - specTotal(all)
		if room <= 0 {
			return size(newRS), nil
		}
		return size(newRS) + min(room, replicas(d)-size(newRS)), nil
	}
	return 0, fmt.Errorf("deployment type %v isn't supported", d.Spec.Strategy.Type)
}

// total adds up a count over ReplicaSets; nil entries (no new ReplicaSet
// yet) count 0.
func total(rss []*appsv1.ReplicaSet, count func(*appsv1.ReplicaSet) int32) (n int32) {
	for _, rs := range rss {
		if rs != nil {
			n += count(rs)
		}
	}
	return n
}

// The counts total adds up: pods asked for, and pods counted, ready and
// available by the ReplicaSet controller.
func specTotal(rss []*appsv1.ReplicaSet) int32 { return total(rss, size) }
func statusTotal(rss []*appsv1.ReplicaSet) int32 {
	return total(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.Replicas })
}
func readyTotal(rss []*appsv1.ReplicaSet) int32 {
	return total(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.ReadyReplicas })
}
func availableTotal(rss []*appsv1.ReplicaSet) int32 {
	return total(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.AvailableReplicas })
}

// active are the ReplicaSets asked for at least one pod.
func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && size(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// withNew is old plus the new ReplicaSet, in a slice of its own.
func withNew(old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := make([]*appsv1.ReplicaSet, 0, len(old)+1)
	out = append(out, old...)
	if newRS != nil {
		out = append(out, newRS)
	}
	return out
}

// saturated reports a new ReplicaSet that runs the whole Deployment, knows it
// (its desired-replicas annotation) and has every pod available.
func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := replicasAnnotation(rs, desiredReplicasAnnotation)
	return ok && size(rs) == replicas(d) && desired == replicas(d) && rs.Status.AvailableReplicas == replicas(d)
}

// scale resizes the ReplicaSets of a Deployment that was resized (or is
// paused), without moving its rollout on: a single active ReplicaSet (or, with
// none, the newest) takes the whole size; a saturated new one leaves the old
// ones nothing; otherwise, for RollingUpdate, the difference is shared out in
// proportion to each ReplicaSet's share of the size it was last scaled for, so
// that neither the new template nor the old gains ground.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if target := activeOrNewest(newRS, old); target != nil {
		if size(target) == replicas(d) {
			return nil
		}
		_, _, err := c.scaleReplicaSet(ctx, target, replicas(d), d, false)
		return err
	}
	if saturated(d, newRS) {
		for _, rs := range active(old) {
			if _, _, err := c.scaleReplicaSet(ctx, rs, 0, d, false); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := active(withNew(old, newRS))
	allowed := int32(0)
	if replicas(d) > 0 {
		allowed = replicas(d) + maxSurge(d)
	}
	toAdd := allowed - specTotal(all)
	// Larger ReplicaSets first; among equals the newer grows first and the
	// older shrinks first.
	switch {
	case toAdd > 0:
		sort.SliceStable(all, func(i, j int) bool {
			if size(all[i]) != size(all[j]) {
				return size(all[i]) > size(all[j])
			}
			return olderThan(all[j], all[i])
		})
	case toAdd < 0:
		sort.SliceStable(all, func(i, j int) bool {
			if size(all[i]) != size(all[j]) {
				return size(all[i]) > size(all[j])
			}
			return olderThan(all[i], all[j])
		})
	}
	sizes := make([]int32, len(all))
	added := int32(0)
	for i, rs := range all {
		sizes[i] = size(rs)
		if toAdd != 0 {
			share := proportion(rs, d, toAdd, added)
			sizes[i] += share
			added += share
		}
	}
	if toAdd != 0 && len(all) > 0 {
		// What rounding left over goes to (or comes from) the largest.
		sizes[0] = max(sizes[0]+toAdd-added, 0)
	}
	for i, rs := range all {
		if _, _, err := c.scaleReplicaSet(ctx, rs, sizes[i], d, true); err != nil {
			return err
		}
	}
	return nil
}

// activeOrNewest is the only active ReplicaSet, the newest one when none is
// active, or nil when several are.
func activeOrNewest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	all := active(withNew(old, newRS))
	switch {
	case len(all) == 1:
		return all[0]
	case len(all) > 1:
		return nil
	case newRS != nil:
		return newRS
	case len(old) > 0:
		newest := old[0]
		for _, rs := range old[1:] {
			if olderThan(newest, rs) {
				newest = rs
			}
		}
		return newest
	}
	return nil
}

// proportion is a ReplicaSet's part of toAdd (negative to remove), given that
// added has been handed out already: its size scaled from the Deployment's
// maximum size when it was last scaled (max-replicas) to the maximum now,
// rounded half away from zero, and never beyond what is left to hand out.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if size(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	var fraction int32
	if replicas(d) == 0 {
		fraction = -size(rs)
	} else {
		before, ok := replicasAnnotation(rs, maxReplicasAnnotation)
		if !ok || before == 0 {
			// Someone removed or broke the annotation: the count last
			// observed is the best base left.
			before = d.Status.Replicas
		}
		if before != 0 {
			scaled := float64(size(rs)) * float64(replicas(d)+maxSurge(d)) / float64(before)
			fraction = int32(math.Round(scaled)) - size(rs)
		}
	}
	left := toAdd - added
	if toAdd > 0 {
		return min(fraction, left)
	}
	return max(fraction, left)
}

// scaleReplicaSet sets a ReplicaSet's size and records the Deployment's size
// on it. Unless force, it writes only when the size changes (force also
// writes stale annotations). It reports whether the size changed.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, to int32, d *appsv1.Deployment, force bool) (bool, *appsv1.ReplicaSet, error) {
	from := size(rs)
	if from == to && (!force || !replicasAnnotationsStale(rs, replicas(d), replicas(d)+maxSurge(d))) {
		return false, rs, nil
	}
	next := rs.DeepCopy()
	next.Spec.Replicas = ptr.To(to)
	setReplicasAnnotations(next, replicas(d), replicas(d)+maxSurge(d))
	updated, err := c.client.AppsV1().ReplicaSets(next.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scaling replica set %s/%s to %d: %w", rs.Namespace, rs.Name, to, err)
	}
	c.wroteReplicaSet(d, updated)
	if from == to {
		return false, updated, nil
	}
	direction := "up"
	if to < from {
		direction = "down"
	}
	c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", direction, rs.Name, from, to)
	return true, updated, nil
}
