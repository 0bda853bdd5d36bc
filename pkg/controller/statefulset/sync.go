package statefulset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"

	"github.com/skiffhq/skiff/pkg/controller/history"
	"github.com/skiffhq/skiff/pkg/controller/workers"
)

// sync brings one StatefulSet's pods and revisions toward its spec and
// records what it saw in its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.writes.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if c.writes.pending(key, func(pod string) *corev1.Pod {
		p, _ := c.pods.Pods(ns).Get(pod)
		return p
	}) {
		return workers.After(time.Second, fmt.Errorf("statefulset %s: the pod cache does not show the last writes yet", key))
	}
	selector, err := metav1.LabelSelectorAsSelector(cached.Spec.Selector)
	if err != nil {
		// Validation keeps this from happening; retrying would not help.
		c.log.Info("invalid selector", "statefulset", key, "err", err)
		return nil
	}
	set := cached.DeepCopy()

	revs, err := c.history.List(set, selector)
	if err != nil {
		return err
	}
	if revs, err = c.adoptRevisions(ctx, set, revs); err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, set, selector)
	if err != nil {
		return err
	}
	history.Sort(revs)

	current, update, collisions, err := c.revisions(ctx, set, revs)
	if err != nil {
		return err
	}
	now := c.clock.Now()
	status, err := c.reconcile(ctx, key, set, current, update, collisions, pods, now)
	var statusErr error
	if status != nil {
		statusErr = c.writeStatus(ctx, set, status)
	}
	truncErr := c.truncateHistory(ctx, set, pods, revs, current, update)
	if err == nil && statusErr == nil && status != nil {
		c.requeueForAvailability(set, status, pods, now)
	}
	return errors.Join(err, statusErr, truncErr)
}

// requeueForAvailability looks at the set again when its next ready pod will
// have been ready for minReadySeconds: no event marks that moment.
func (c *Controller) requeueForAvailability(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus, pods []*corev1.Pod, now time.Time) {
	if set.Spec.MinReadySeconds <= 0 || status.ReadyReplicas == status.AvailableReplicas {
		return
	}
	minReady := time.Duration(set.Spec.MinReadySeconds) * time.Second
	next := minReady
	for _, p := range pods {
		if !isRunningAndReady(p) || isAvailable(p, set.Spec.MinReadySeconds, now) {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && !cond.LastTransitionTime.IsZero() {
				if d := cond.LastTransitionTime.Add(minReady).Sub(now) + time.Second; d > 0 && d < next {
					next = d
				}
			}
		}
	}
	c.enqueueAfter(set, next)
}

// slot is one ordinal of the set: the pod the cache has for it, or the one
// that would be created (placeholder).
type slot struct {
	pod         *corev1.Pod
	placeholder bool
}

// reconcile creates, deletes and relabels pods to move the set one step
// toward its spec, and returns the status it observed. A nil status means
// nothing could be observed.
func (c *Controller) reconcile(ctx context.Context, key string, set *appsv1.StatefulSet, current, update *appsv1.ControllerRevision,
	collisions int32, pods []*corev1.Pod, now time.Time) (*appsv1.StatefulSetStatus, error) {
	currentSet, err := applyRevision(set, current)
	if err != nil {
		return nil, err
	}
	updateSet, err := applyRevision(set, update)
	if err != nil {
		return nil, err
	}
	strategy := set.Spec.UpdateStrategy.Type
	if strategy != "" && strategy != appsv1.RollingUpdateStatefulSetStrategyType && strategy != appsv1.OnDeleteStatefulSetStrategyType {
		err := fmt.Errorf("statefulset %s/%s uses %s strategy, which this controller does not implement (feature gate StatefulSetRecreateStrategy is off)", set.Namespace, set.Name, strategy)
		c.event(set, corev1.EventTypeWarning, "UnknownStrategy", err.Error())
		return nil, err
	}

	status := &appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    current.Name,
		UpdateRevision:     update.Name,
		CollisionCount:     &collisions,
		Conditions:         append([]appsv1.StatefulSetCondition(nil), set.Status.Conditions...),
	}
	countPods(status, set.Spec.MinReadySeconds, current.Name, update.Name, now, pods)

	n, start := replicasOf(set), startOrdinal(set)
	slots := make([]slot, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		switch ord := ordinalOf(p); {
		case inRange(set, p):
			slots[ord-start] = slot{pod: p}
		case ord >= 0:
			condemned = append(condemned, p)
		}
	}
	for i := range slots {
		if slots[i].pod == nil {
			slots[i] = slot{pod: versionedPod(currentSet, updateSet, current.Name, update.Name, start+i), placeholder: true}
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return ordinalOf(condemned[i]) > ordinalOf(condemned[j]) })

	// The first unavailable pod, by ordinal: the only one OrderedReady may
	// remove while it is unhealthy.
	minReady := set.Spec.MinReadySeconds
	var firstUnavailable *corev1.Pod
	for _, s := range slots {
		if firstUnavailable == nil && isUnavailable(s.pod, minReady, now) {
			firstUnavailable = s.pod
		}
	}
	for i := len(condemned) - 1; i >= 0 && firstUnavailable == nil; i-- {
		if isUnavailable(condemned[i], minReady, now) {
			firstUnavailable = condemned[i]
		}
	}
	if set.DeletionTimestamp != nil {
		return status, nil
	}

	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	recount := func() {
		all := make([]*corev1.Pod, 0, len(slots)+len(condemned))
		for _, s := range slots {
			all = append(all, s.pod)
		}
		countPods(status, minReady, current.Name, update.Name, now, append(all, condemned...))
	}

	stop, err := forAll(len(slots), monotonic, func(i int) (bool, error) {
		return c.processReplica(ctx, key, set, updateSet, monotonic, slots[i], now)
	})
	if stop || err != nil {
		recount()
		return status, err
	}
	stop, err = forAll(len(condemned), monotonic, func(i int) (bool, error) {
		return c.processCondemned(ctx, key, set, firstUnavailable, monotonic, condemned[i], now)
	})
	if stop || err != nil {
		recount()
		return status, err
	}
	recount()

	if strategy == appsv1.OnDeleteStatefulSetStrategyType {
		return status, nil
	}
	return status, c.rollingUpdate(ctx, key, set, slots, update.Name, status, now)
}

// versionedPod is the pod to create for ordinal: at the current revision below
// the partition, at the update revision from it up.
func versionedPod(currentSet, updateSet *appsv1.StatefulSet, current, update string, ordinal int) *corev1.Pod {
	ru := currentSet.Spec.UpdateStrategy.RollingUpdate
	start := startOrdinal(currentSet)
	old := false
	if currentSet.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru == nil {
		old = ordinal < start+int(currentSet.Status.CurrentReplicas)
	}
	if ru != nil && ru.Partition != nil {
		old = ordinal < start+int(*ru.Partition)
	}
	if old {
		return newPod(currentSet, ordinal, current)
	}
	return newPod(updateSet, ordinal, update)
}

// processReplica handles one wanted ordinal and reports whether an ordered
// set must stop there this round.
func (c *Controller) processReplica(ctx context.Context, key string, set, updateSet *appsv1.StatefulSet, monotonic bool, s slot, now time.Time) (bool, error) {
	pod := s.pod
	if !s.placeholder && isTerminal(pod) {
		// Failed or Succeeded: replaced by a fresh pod once this one is gone.
		if pod.DeletionTimestamp == nil {
			if err := c.deletePod(ctx, key, set, pod); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	if s.placeholder {
		if err := c.createPod(ctx, key, set, pod); err != nil {
			return true, err
		}
		return monotonic, nil
	}
	if monotonic {
		if isTerminating(pod) {
			c.log.Debug("waiting for pod to terminate", "statefulset", key, "pod", pod.Name)
			return true, nil
		}
		if !isRunningAndReady(pod) {
			c.log.Debug("waiting for pod to be Running and Ready", "statefulset", key, "pod", pod.Name)
			return true, nil
		}
		if !isAvailable(pod, set.Spec.MinReadySeconds, now) {
			c.log.Debug("waiting for pod to be available", "statefulset", key, "pod", pod.Name)
			return true, nil
		}
	}
	if identityMatches(set, pod) {
		return false, nil
	}
	fixed := pod.DeepCopy()
	setIdentity(updateSet, fixed)
	_, err := c.client.CoreV1().Pods(fixed.Namespace).Update(ctx, fixed, metav1.UpdateOptions{})
	c.recordPodEvent("update", set, fixed, err)
	return false, err
}

// processCondemned removes one pod past the wanted ordinals. An ordered set
// removes one at a time, highest first, and only while the others are healthy
// (or the pod is the first unhealthy one).
func (c *Controller) processCondemned(ctx context.Context, key string, set *appsv1.StatefulSet, firstUnavailable *corev1.Pod, monotonic bool, pod *corev1.Pod, now time.Time) (bool, error) {
	if isTerminating(pod) {
		return monotonic, nil
	}
	if monotonic && pod != firstUnavailable &&
		(!isRunningAndReady(pod) || !isAvailable(pod, set.Spec.MinReadySeconds, now)) {
		c.log.Debug("waiting for pod to be available before scaling down", "statefulset", key, "pod", firstUnavailable.Name)
		return true, nil
	}
	return true, c.deletePod(ctx, key, set, pod)
}

// rollingUpdate deletes pods not at the update revision, from the highest
// ordinal down to the partition, keeping at most maxUnavailable pods
// unavailable (MaxUnavailableStatefulSet is on by default in v1.37).
func (c *Controller) rollingUpdate(ctx context.Context, key string, set *appsv1.StatefulSet, slots []slot, update string, status *appsv1.StatefulSetStatus, now time.Time) error {
	minReady := set.Spec.MinReadySeconds
	updateMin, maxUnavailable := 0, 1
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.Partition != nil {
			updateMin = int(*ru.Partition)
		}
		var err error
		if maxUnavailable, err = scaledMaxUnavailable(ru.MaxUnavailable, len(slots)); err != nil {
			return err
		}
	}
	parallel := set.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
	outdated := func(s slot) bool { return !s.placeholder && revisionOf(s.pod) != update && !isTerminating(s.pod) }

	unavailable, unavailableOutdated := 0, 0
	for _, s := range slots {
		if isUnavailable(s.pod, minReady, now) {
			unavailable++
			if parallel && outdated(s) {
				unavailableOutdated++
			}
		}
	}
	if unavailable >= maxUnavailable && unavailableOutdated == 0 {
		return nil
	}
	del := func(s slot) error {
		if err := c.deletePod(ctx, key, set, s.pod); err != nil {
			return err
		}
		status.CurrentReplicas--
		return nil
	}
	if parallel {
		// Outdated pods that are down already cost nothing to replace; then
		// healthy ones, within what the budget has left.
		for i := len(slots) - 1; i >= updateMin; i-- {
			if outdated(slots[i]) && !isAvailable(slots[i].pod, minReady, now) {
				if err := del(slots[i]); err != nil {
					return err
				}
			}
		}
		budget := maxUnavailable - unavailable
		for i := len(slots) - 1; i >= updateMin && budget > 0; i-- {
			if outdated(slots[i]) && !isUnavailable(slots[i].pod, minReady, now) {
				if err := del(slots[i]); err != nil {
					return err
				}
				budget--
			}
		}
		return nil
	}
	budget := maxUnavailable - unavailable
	for i := len(slots) - 1; i >= updateMin && budget > 0; i-- {
		if outdated(slots[i]) {
			c.log.Debug("terminating pod for update", "statefulset", key, "pod", slots[i].pod.Name)
			if err := del(slots[i]); err != nil {
				return err
			}
			budget--
		}
	}
	return nil
}

// scaledMaxUnavailable is maxUnavailable (default 1) of replicas, rounded
// down, and at least 1.
func scaledMaxUnavailable(v *intstr.IntOrString, replicas int) (int, error) {
	n, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(v, intstr.FromInt32(1)), replicas, false)
	if err != nil {
		return 0, err
	}
	return max(n, 1), nil
}

// forAll runs fn over 0..n-1: in order, stopping at the first that asks to
// stop, when monotonic; otherwise all of them, in slow-start batches (1, 2,
// 4, ...) that stop at the first batch with an error.
func forAll(n int, monotonic bool, fn func(i int) (bool, error)) (bool, error) {
	if monotonic {
		for i := range n {
			if stop, err := fn(i); stop || err != nil {
				return true, err
			}
		}
		return false, nil
	}
	done := 0
	for batch := min(n, 1); batch > 0; batch = min(2*batch, n-done) {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for i := done; i < done+batch; i++ {
			wg.Go(func() {
				if _, err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		done += batch
		if len(errs) > 0 {
			return true, errors.Join(errs...)
		}
	}
	return false, nil
}

func (c *Controller) createPod(ctx context.Context, key string, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	_, err := c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err == nil {
		c.writes.created(key, pod.Name)
	}
	if apierrors.IsAlreadyExists(err) {
		return err
	}
	if isNamespaceTerminating(err) {
		return nil
	}
	c.recordPodEvent("create", set, pod, err)
	return err
}

func (c *Controller) deletePod(ctx context.Context, key string, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		c.recordPodEvent("delete", set, pod, err)
		return err
	}
	c.writes.deleted(key, pod.Name, pod.UID)
	c.recordPodEvent("delete", set, pod, nil)
	return nil
}

// recordPodEvent records upstream's events: SuccessfulCreate "Create Pod
// web-0 in StatefulSet web successful", FailedDelete "Delete Pod ... failed
// error: ...".
func (c *Controller) recordPodEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, err error) {
	title := string(verb[0]-'a'+'A') + verb[1:]
	if err == nil {
		c.event(set, corev1.EventTypeNormal, "Successful"+title,
			fmt.Sprintf("%s Pod %s in StatefulSet %s successful", title, pod.Name, set.Name))
		return
	}
	c.event(set, corev1.EventTypeWarning, "Failed"+title,
		fmt.Sprintf("%s Pod %s in StatefulSet %s failed error: %s", title, pod.Name, set.Name, err))
}

func (c *Controller) event(set *appsv1.StatefulSet, typ, reason, msg string) {
	if c.recorder != nil {
		c.recorder.Event(set, typ, reason, msg)
	}
}
