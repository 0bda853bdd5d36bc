package daemonset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	intstrutil "k8s.io/apimachinery/pkg/util/intstr"
)

// surgeCount is maxSurge resolved against n nodes (rounded up); 0 unless the
// strategy is RollingUpdate with a maxSurge.
func surgeCount(ds *appsv1.DaemonSet, n int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxSurge == nil {
		return 0, nil
	}
	return intstrutil.GetScaledValueFromIntOrPercent(r.MaxSurge, n, true)
}

// unavailableCount is maxUnavailable resolved against n nodes (rounded up).
func unavailableCount(ds *appsv1.DaemonSet, n int) (int, error) {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxUnavailable == nil {
		return 0, nil
	}
	return intstrutil.GetScaledValueFromIntOrPercent(r.MaxUnavailable, n, true)
}

// rollingUpdate replaces pods of old revisions. Without surge it deletes old
// pods, as many as keep the unavailable ones within maxUnavailable (old pods
// that are not available anyway go first and at once), and manage creates
// their replacements. With surge it starts new pods next to old ones on up
// to maxSurge nodes and deletes each old pod once the new one is available.
func (c *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, key string, pods []*corev1.Pod,
	nodes []*corev1.Node, p *placement, hash string) error {
	byNode := podsByNode(pods, false)
	eligible := map[string]bool{}
	desired := 0
	for _, node := range nodes {
		if shouldRun, _ := p.check(node); shouldRun {
			desired++
			eligible[node.Name] = true
			if _, ok := byNode[node.Name]; !ok {
				byNode[node.Name] = nil // a node still to get its pod counts as unavailable
			}
		}
	}
	maxSurge, err := surgeCount(ds, desired)
	if err != nil {
		return fmt.Errorf("invalid maxSurge: %w", err)
	}
	maxUnavailable, err := unavailableCount(ds, desired)
	if err != nil {
		return fmt.Errorf("invalid maxUnavailable: %w", err)
	}
	if desired > 0 && maxSurge == 0 && maxUnavailable == 0 {
		// Impossible (the API refuses it); upstream then allows one.
		maxUnavailable = 1
	}
	generation := templateGeneration(ds)
	now := c.clock.Now()
	available := func(pod *corev1.Pod) bool { return podAvailable(pod, ds.Spec.MinReadySeconds, now) }

	if maxSurge == 0 {
		unavailable := 0
		var replace, candidates []*corev1.Pod
		for _, pods := range byNode {
			newPod, oldPod, ok := splitByRevision(pods, hash, generation)
			switch {
			case !ok:
				unavailable++ // manage prunes the extra pods first
			case oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				unavailable++ // manage creates or deletes one
			case newPod != nil:
				if !available(newPod) {
					unavailable++
				}
			case !available(oldPod):
				replace = append(replace, oldPod) // costs no availability
				unavailable++
			case unavailable < maxUnavailable:
				candidates = append(candidates, oldPod)
			}
		}
		n := min(max(maxUnavailable-unavailable, 0), len(candidates))
		var del []deletion
		for _, pod := range append(replace, candidates[:n]...) {
			del = append(del, deletion{pod: pod})
		}
		return c.syncNodes(ctx, ds, key, del, nil, hash)
	}

	var (
		del               []deletion
		misplaced         []*corev1.Pod // old, available pods on nodes that no longer admit them
		replaceOn, surgOn []string
		surging, up       int
	)
	for name, pods := range byNode {
		newPod, oldPod, ok := splitByRevision(pods, hash, generation)
		if !ok {
			surging++ // manage prunes the extra pods first
			continue
		}
		if oldPod != nil && available(oldPod) || oldPod == nil && newPod != nil && available(newPod) {
			up++
		}
		switch {
		case oldPod == nil:
			// manage starts a pod here if need be
		case newPod == nil && !available(oldPod):
			if !eligible[name] {
				del = append(del, deletion{pod: oldPod})
				continue
			}
			replaceOn = append(replaceOn, name) // costs no availability
		case newPod == nil:
			if !eligible[name] {
				misplaced = append(misplaced, oldPod)
				continue
			}
			if surging < maxSurge {
				surgOn = append(surgOn, name)
			}
		case !available(newPod):
			surging++ // waiting for it
		default:
			del = append(del, deletion{pod: oldPod}) // replaced
		}
	}
	// The owner of a surging DaemonSet wants full availability: a pod on a
	// node it must leave goes only once as many are available elsewhere.
	if spare := up - desired; spare > 0 {
		for _, pod := range misplaced[:min(spare, len(misplaced))] {
			del = append(del, deletion{pod: pod})
		}
	}
	n := min(max(maxSurge-surging, 0), len(surgOn))
	return c.syncNodes(ctx, ds, key, del, append(replaceOn, surgOn[:n]...), hash)
}

// splitByRevision returns a node's pod of the current revision and its pod of
// an older one (either may be nil), not counting pods being deleted; ok is
// false when the node has more than one of either.
func splitByRevision(pods []*corev1.Pod, hash string, generation *int64) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if podUpdated(pod, hash, generation) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = pod
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = pod
		}
	}
	return newPod, oldPod, true
}
