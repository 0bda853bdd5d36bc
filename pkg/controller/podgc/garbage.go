package podgc

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// evictedReason is the status reason a kubelet gives a pod it evicted under
// node pressure; such pods go first when terminated pods are trimmed.
const evictedReason = "Evicted"

// garbage is one pass's pods, sorted by why they may have to go.
type garbage struct {
	terminated             []*corev1.Pod
	outOfService           []*corev1.Pod
	unscheduledTerminating []*corev1.Pod
	// onMissingNodes are the pods bound to a node the cache does not hold,
	// by node name.
	onMissingNodes map[string][]*corev1.Pod
}

// sortGarbage looks once over pods.
func sortGarbage(pods []*corev1.Pod, nodes []*corev1.Node) garbage {
	byName := make(map[string]*corev1.Node, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
	}
	g := garbage{onMissingNodes: map[string][]*corev1.Pod{}}
	for _, pod := range pods {
		if terminal(pod) {
			g.terminated = append(g.terminated, pod)
		}
		terminating := pod.DeletionTimestamp != nil
		if pod.Spec.NodeName == "" {
			if terminating {
				g.unscheduledTerminating = append(g.unscheduledTerminating, pod)
			}
			continue
		}
		node, ok := byName[pod.Spec.NodeName]
		if !ok {
			g.onMissingNodes[pod.Spec.NodeName] = append(g.onMissingNodes[pod.Spec.NodeName], pod)
			continue
		}
		if terminating && outOfService(node) {
			g.outOfService = append(g.outOfService, pod)
		}
	}
	return g
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// outOfService reports whether an administrator has declared the node down
// for good: it is not Ready and carries the out-of-service taint (any value,
// any effect), so its pods cannot be running any more.
func outOfService(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return false
		}
	}
	return slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeOutOfService })
}

// oldestTerminated is what must go for at most keep terminated pods to
// remain: evicted pods first, then the oldest by creation time.
func oldestTerminated(terminated []*corev1.Pod, keep int) []*corev1.Pod {
	excess := len(terminated) - keep
	if excess <= 0 {
		return nil
	}
	sorted := slices.Clone(terminated)
	slices.SortFunc(sorted, func(a, b *corev1.Pod) int {
		if ea, eb := evicted(a), evicted(b); ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return sorted[:excess]
}

func evicted(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == evictedReason
}

// orphans returns the pods bound to nodes that have been missing from the
// cache for the quarantine and that a GET confirms are gone. A node first
// seen missing starts its quarantine; one back in the cache, or no longer
// named by any pod, is forgotten; one the GET still finds (the cache lags)
// starts a new quarantine.
func (c *Controller) orphans(ctx context.Context, g garbage) []*corev1.Pod {
	now := c.clock.Now()
	for name := range c.missing {
		if _, ok := g.onMissingNodes[name]; !ok {
			delete(c.missing, name)
		}
	}
	var out []*corev1.Pod
	names := make([]string, 0, len(g.onMissingNodes))
	for name := range g.onMissingNodes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		since, ok := c.missing[name]
		if !ok {
			c.missing[name] = now
			continue
		}
		if now.Sub(since) < c.opts.Quarantine {
			continue
		}
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			// Gone: its pods go. The entry stays, so that a deletion that
			// fails is retried next pass without a new quarantine.
			out = append(out, g.onMissingNodes[name]...)
		case err != nil:
			if ctx.Err() == nil {
				c.log.Warn("confirming a node is gone failed; retrying next pass", "node", name, "err", err)
			}
		default:
			c.missing[name] = now
		}
	}
	return out
}
