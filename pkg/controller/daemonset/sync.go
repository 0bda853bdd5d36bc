package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// Event reasons, as upstream's.
const (
	selectingAllReason       = "SelectingAll"
	failedDaemonPodReason    = "FailedDaemonPod"
	succeededDaemonPodReason = "SucceededDaemonPod"
)

// sync brings one DaemonSet's pods, revisions and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.daemonSets.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if sel := ds.Spec.Selector; sel == nil || len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, selectingAllReason, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		c.log.Info("ignoring a DaemonSet with an invalid selector", "daemonset", key, "err", err)
		return nil
	}
	if ds.DeletionTimestamp != nil {
		// Its pods and revisions may already be going (the garbage collector's
		// business): no status could be trusted.
		return nil
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	ds, cur, old, err := c.constructHistory(ctx, ds, selector)
	if err != nil {
		return fmt.Errorf("revisions of DaemonSet %s: %w", key, err)
	}
	hash := cur.Labels[hashLabel]
	p := newPlacement(ds)

	if !c.expect.Satisfied(key) {
		// Only the status: the generation is not observed until acted on.
		return c.updateStatus(ctx, ds, c.ownPods(ds, selector), nodes, p, hash, false)
	}
	// The pods claimed are the sync's view from here on: those just adopted
	// are not in the cache as ours yet.
	pods, err := c.claimPods(ctx, ds, selector)
	if err != nil {
		return err
	}
	acted, err := c.manage(ctx, ds, key, pods, nodes, p, hash)
	if err == nil && !acted && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		// Only on a settled node set: what manage did comes back as events,
		// and a sync of its own.
		err = c.rollingUpdate(ctx, ds, key, pods, nodes, p, hash)
	}
	if err == nil {
		if herr := c.cleanupHistory(ctx, ds, pods, old); herr != nil {
			err = fmt.Errorf("cleaning up the revisions of DaemonSet %s: %w", key, herr)
		}
	}
	return errors.Join(err, c.updateStatus(ctx, ds, pods, nodes, p, hash, true))
}

// ownPods are the pods ds controls whose labels match its selector, from
// the cache (claimPods has adopted and released as needed).
func (c *Controller) ownPods(ds *appsv1.DaemonSet, selector labels.Selector) []*corev1.Pod {
	all := c.podsOf(ds)
	out := all[:0]
	for _, pod := range all {
		if pod.Namespace == ds.Namespace && metav1.IsControlledBy(pod, ds) && selector.Matches(labels.Set(pod.Labels)) {
			out = append(out, pod)
		}
	}
	return out
}

// podsByNode groups a DaemonSet's pods by the node they are for. A pod that
// has finished and is being deleted is left out unless withGone: nothing more
// is to be done with it, but its revision is still in use.
func podsByNode(pods []*corev1.Pod, withGone bool) map[string][]*corev1.Pod {
	m := make(map[string][]*corev1.Pod, len(pods))
	for _, pod := range pods {
		if !withGone && podFinished(pod) && pod.DeletionTimestamp != nil {
			continue
		}
		node := targetNode(pod)
		if node == "" {
			continue
		}
		m[node] = append(m[node], pod)
	}
	return m
}

// deletion is a pod to delete; force deletes it at once, for a pod bound to
// a node that no longer exists (no kubelet will ever confirm its end).
type deletion struct {
	pod   *corev1.Pod
	force bool
}

// manage creates the daemon pods missing from eligible nodes and deletes
// those on nodes that no longer admit them, the failed and the surplus.
// It reports whether it asked for any.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, key string, pods []*corev1.Pod,
	nodes []*corev1.Node, p *placement, hash string) (bool, error) {
	byNode := podsByNode(pods, false)
	var create []string
	var del []deletion
	exists := make(map[string]bool, len(nodes))
	for _, node := range nodes {
		exists[node.Name] = true
		need, gone := c.podsShouldBeOnNode(ds, node, byNode[node.Name], p, hash)
		if need {
			create = append(create, node.Name)
		}
		for _, pod := range gone {
			del = append(del, deletion{pod: pod})
		}
	}
	var errs []error
	for name, pods := range byNode {
		if exists[name] {
			continue
		}
		// The pods of a node that is gone: those never bound could not be
		// cleaned up by anyone else; those bound stay Terminating forever
		// unless deleted at once (upstream's pod GC does that; Skiff has none).
		var vanished []*corev1.Pod
		for _, pod := range pods {
			switch {
			case pod.DeletionTimestamp != nil && pod.Spec.NodeName == "":
			case pod.Spec.NodeName == "":
				del = append(del, deletion{pod: pod})
			default:
				vanished = append(vanished, pod)
			}
		}
		if len(vanished) == 0 {
			continue
		}
		gone, err := c.nodeGone(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pod := range vanished {
			if gone {
				del = append(del, deletion{pod: pod, force: true})
			}
		}
	}
	errs = append(errs, c.syncNodes(ctx, ds, key, del, create, hash))
	return len(del)+len(create) > 0, errors.Join(errs...)
}

// nodeGone asks the API (not the cache, which may lag behind the scheduler's)
// whether a node is gone.
func (c *Controller) nodeGone(ctx context.Context, name string) (bool, error) {
	_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// podsShouldBeOnNode decides, for one node and ds's pods there, whether a pod
// must be created and which must be deleted: all of them on a node that
// does not admit them any more; the failed (with a back-off per node) and
// succeeded ones; and, beyond the one pod per node (two while surging), the
// youngest.
func (c *Controller) podsShouldBeOnNode(ds *appsv1.DaemonSet, node *corev1.Node, pods []*corev1.Pod,
	p *placement, hash string) (need bool, del []*corev1.Pod) {
	shouldRun, shouldContinue := p.check(node)
	switch {
	case shouldRun && len(pods) == 0:
		return true, nil
	case !shouldContinue:
		for _, pod := range pods {
			if pod.DeletionTimestamp == nil {
				del = append(del, pod)
			}
		}
		return false, del
	}
	var running []*corev1.Pod
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		switch pod.Status.Phase {
		case corev1.PodFailed:
			bkey := backoffKey(ds, node.Name)
			now := c.clock.Now()
			if c.failedBackoff.IsInBackOffSinceUpdate(bkey, now) {
				c.queue.AddAfter(keyOf(ds), c.failedBackoff.Get(bkey))
				continue
			}
			c.failedBackoff.Next(bkey, now)
			c.recorder.Eventf(ds, corev1.EventTypeWarning, failedDaemonPodReason,
				"Found failed daemon pod %s/%s on node %s, will try to kill it", pod.Namespace, pod.Name, node.Name)
			del = append(del, pod)
		case corev1.PodSucceeded:
			c.recorder.Eventf(ds, corev1.EventTypeNormal, succeededDaemonPodReason,
				"Found succeeded daemon pod %s/%s on node %s, will try to delete it", pod.Namespace, pod.Name, node.Name)
			del = append(del, pod)
		default:
			running = append(running, pod)
		}
	}
	sortOldestFirst(running)
	if surge, err := surgeCount(ds, 1); err != nil || surge == 0 {
		// Without surge one pod per node: the oldest stays.
		if len(running) > 1 {
			del = append(del, running[1:]...)
		}
		return false, del
	}
	if len(running) <= 1 {
		// While surging, a node whose pods all went still needs one.
		return len(running) == 0 && shouldRun, del
	}
	// While surging a node may hold the oldest old pod and the oldest new one,
	// the old one only while the new one is not yet available (and the old
	// one still ready); everything else goes.
	var oldestNew, oldestOld *corev1.Pod
	for _, pod := range running {
		switch {
		case pod.Labels[hashLabel] == hash && oldestNew == nil:
			oldestNew = pod
		case pod.Labels[hashLabel] != hash && oldestOld == nil:
			oldestOld = pod
		default:
			del = append(del, pod)
		}
	}
	if oldestNew != nil && oldestOld != nil &&
		(!podReady(oldestOld) || podAvailable(oldestNew, ds.Spec.MinReadySeconds, c.clock.Now())) {
		del = append(del, oldestOld)
	}
	return false, del
}

func backoffKey(ds *appsv1.DaemonSet, node string) string {
	return fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node)
}

// sortOldestFirst orders pods bound ones first, then oldest first, then by name.
func sortOldestFirst(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if (a.Spec.NodeName != "") != (b.Spec.NodeName != "") {
			return a.Spec.NodeName != ""
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// templateGeneration is the generation the API server keeps in the deprecated
// annotation, which old clients read from the pods' pod-template-generation
// label; nil when missing or unreadable.
func templateGeneration(ds *appsv1.DaemonSet) *int64 {
	v, ok := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if !ok {
		return nil
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &g
}

// podUpdated reports whether pod is of ds's current template: its hash label
// says so, or its generation label does.
func podUpdated(pod *corev1.Pod, hash string, generation *int64) bool {
	if hash != "" && pod.Labels[hashLabel] == hash {
		return true
	}
	return generation != nil && pod.Labels[generationLabel] == strconv.FormatInt(*generation, 10)
}
