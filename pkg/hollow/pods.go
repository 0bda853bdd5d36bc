package hollow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// dropManagedFields keeps the node's caches small: nothing here reads them.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// watchNode follows this node's own Node object, for its podCIDR and for
// conditions someone else changed (the node controller's Unknown).
func (n *Node) watchNode() {
	if n.fleet != nil {
		n.nodeInformer = n.fleet.nodes
		return
	}
	byName := fields.OneTermEqualSelector("metadata.name", n.name).String()
	n.nodeInformer = coreinformers.NewFilteredNodeInformer(n.client, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.FieldSelector = byName })
	_ = n.nodeInformer.SetTransform(dropManagedFields)
	_, _ = n.nodeInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { n.observeNode(obj.(*corev1.Node)) },
		UpdateFunc: func(_, obj any) { n.observeNode(obj.(*corev1.Node)) },
		DeleteFunc: func(any) { n.requestStatus() }, // registers the node again
	})
}

// watchPods follows the pods bound to this node, and no others.
func (n *Node) watchPods() {
	if n.fleet != nil {
		n.podInformer = n.fleet.pods
		return
	}
	onNode := fields.OneTermEqualSelector("spec.nodeName", n.name).String()
	n.podInformer = coreinformers.NewFilteredPodInformer(n.client, metav1.NamespaceAll, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.FieldSelector = onNode })
	_ = n.podInformer.SetTransform(dropManagedFields)
	_, _ = n.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    n.enqueue,
		UpdateFunc: func(_, obj any) { n.enqueue(obj) },
		DeleteFunc: n.enqueue,
	})
}

func (n *Node) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		n.queue.Add(key)
	}
}

// write runs a pod write, within the fleet's bound when the node has one.
func (n *Node) write(ctx context.Context, f func() error) error {
	if n.fleet == nil {
		return f()
	}
	return n.fleet.call(ctx, f)
}

// ownPods are the pods the informer holds that are bound to this node (all of
// them, unless the informer is the fleet's).
func (n *Node) ownPods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, obj := range n.podInformer.GetStore().List() {
		if pod := obj.(*corev1.Pod); pod.Spec.NodeName == n.name {
			out = append(out, pod)
		}
	}
	return out
}

func (n *Node) currentNode() *corev1.Node {
	if n.nodeInformer == nil {
		return nil
	}
	obj, ok, _ := n.nodeInformer.GetStore().GetByKey(n.name)
	if !ok {
		return nil
	}
	return obj.(*corev1.Node)
}

// observeNode picks up the podCIDR once node IPAM assigns it, and answers a
// Ready condition that is not ours with a fresh status.
func (n *Node) observeNode(node *corev1.Node) {
	if node == nil {
		return
	}
	cidr := node.Spec.PodCIDR
	if len(node.Spec.PodCIDRs) > 0 {
		cidr = node.Spec.PodCIDRs[0]
	}
	var wake []string
	n.mu.Lock()
	if cidr != "" && (n.pool == nil || n.pool.prefix.String() != cidr) {
		pool, err := newIPPool(cidr)
		switch {
		case err != nil:
			n.log.Warn("unusable podCIDR", "err", err)
		case n.pool != nil && n.pool.prefix == pool.prefix:
			// The same subnet, spelled differently.
		default:
			if n.pool != nil {
				// The Node was deleted and registered again with another
				// subnet: every pod gets an address of the new one.
				clear(n.pods)
				for _, pod := range n.ownPods() {
					key, _ := cache.MetaNamespaceKeyFunc(pod)
					wake = append(wake, key)
				}
			}
			n.pool = pool
			for key := range n.waiting {
				wake = append(wake, key)
			}
			clear(n.waiting)
		}
	}
	n.mu.Unlock()
	for _, key := range wake {
		n.queue.Add(key)
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			n.requestStatus()
		}
	}
}

// adoptPodIPs takes back the addresses pods already hold from an earlier run of
// this node, before any new address is handed out.
func (n *Node) adoptPodIPs() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pool == nil {
		return
	}
	for _, pod := range n.ownPods() {
		key, _ := cache.MetaNamespaceKeyFunc(pod)
		n.adoptLocked(pod, key)
	}
}

// adoptLocked records the address pod already has, if it is this node's to give.
func (n *Node) adoptLocked(pod *corev1.Pod, key string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(pod.Status.PodIP)
	if err != nil || pod.Spec.HostNetwork || !n.pool.reserve(addr, key) {
		return netip.Addr{}, false
	}
	n.pods[key] = podRecord{uid: string(pod.UID), ip: addr}
	return addr, true
}

func (n *Node) processNext(ctx context.Context) bool {
	key, quit := n.queue.Get()
	if quit {
		return false
	}
	defer n.queue.Done(key)
	if err := n.syncPod(ctx, key); err != nil {
		if ctx.Err() == nil {
			n.log.Debug("syncing pod", "pod", key, "err", err)
		}
		n.queue.AddRateLimited(key)
		return true
	}
	n.queue.Forget(key)
	return true
}

var errNoPodCIDR = errors.New("node has no podCIDR yet")

// syncPod brings one pod of this node to where a kubelet would: Running with an
// address, or gone once it is being deleted.
func (n *Node) syncPod(ctx context.Context, key string) error {
	obj, exists, err := n.podInformer.GetStore().GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		n.forget(key, "")
		return nil
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName != n.name {
		return nil
	}
	n.forget(key, string(pod.UID)) // an earlier pod of the same name
	if pod.DeletionTimestamp != nil {
		return n.stop(ctx, pod, key)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		n.forget(key, "")
		return nil
	}
	if pod.Status.Phase == corev1.PodRunning {
		// Seen Running: containers whose command exits now do.
		if handled, err := n.finishContainers(ctx, pod, key); handled || err != nil {
			return err
		}
	}
	ip, err := n.podIP(pod, key)
	if errors.Is(err, errNoPodCIDR) {
		return nil // queued again when the node gets a podCIDR
	}
	if err != nil {
		return err
	}
	if isRunning(pod, ip) {
		return nil
	}
	running := pod.DeepCopy()
	running.Status = n.runningStatus(pod, ip)
	err = n.write(ctx, func() error {
		_, err := n.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, running, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		n.forget(key, "")
		return nil
	}
	// On a conflict the newer pod is on its way to the informer; the address
	// stays this pod's meanwhile.
	return err
}

// podIP is the address pod has or gets: the node's own on the host network, the
// one it was given before, or the next free one of the podCIDR.
func (n *Node) podIP(pod *corev1.Pod, key string) (netip.Addr, error) {
	if pod.Spec.HostNetwork {
		return netip.ParseAddr(n.opts.InternalIP)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if rec, ok := n.pods[key]; ok && rec.uid == string(pod.UID) {
		return rec.ip, nil
	}
	if n.pool == nil {
		n.waiting[key] = true
		return netip.Addr{}, errNoPodCIDR
	}
	if addr, ok := n.adoptLocked(pod, key); ok {
		return addr, nil
	}
	addr, err := n.pool.allocate(key)
	if err != nil {
		return netip.Addr{}, err
	}
	n.pods[key] = podRecord{uid: string(pod.UID), ip: addr}
	return addr, nil
}

// forget releases key's address, unless it belongs to the incarnation uid.
func (n *Node) forget(key, uid string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.waiting, key)
	rec, ok := n.pods[key]
	if !ok || (uid != "" && rec.uid == uid) {
		return
	}
	if n.pool != nil {
		n.pool.release(rec.ip, key)
	}
	delete(n.pods, key)
}

// stop "stops the containers" of a pod being deleted and completes the
// deletion, as a kubelet does: grace period 0, only for this incarnation.
func (n *Node) stop(ctx context.Context, pod *corev1.Pod, key string) error {
	if len(pod.Finalizers) > 0 && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		// The object outlives its containers (a Job's pod): say how they
		// ended first, as a kubelet does.
		stopped := pod.DeepCopy()
		stopped.Status = stoppedStatus(pod, n.clock.Now())
		err := n.write(ctx, func() error {
			_, err := n.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, stopped, metav1.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("posting the end of pod %q: %w", key, err)
		}
	}
	err := n.write(ctx, func() error {
		return n.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64),
			Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
		})
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %q: %w", key, err)
	}
	n.forget(key, "")
	return nil
}

// isRunning: the pod already shows what runningStatus would write, but for
// the times.
func isRunning(pod *corev1.Pod, ip netip.Addr) bool {
	s := &pod.Status
	if s.Phase != corev1.PodRunning || s.PodIP != ip.String() || len(s.ContainerStatuses) != len(pod.Spec.Containers) ||
		s.ObservedGeneration != pod.Generation {
		return false
	}
	for _, c := range s.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// runningStatus is the status of pod with every container started and ready.
func (n *Node) runningStatus(pod *corev1.Pod, ip netip.Addr) corev1.PodStatus {
	now := metav1.NewTime(n.clock.Now())
	old := pod.Status
	start := now
	if old.StartTime != nil {
		start = *old.StartTime
	}
	s := corev1.PodStatus{
		ObservedGeneration: pod.Generation,
		Phase:              corev1.PodRunning,
		HostIP:             n.opts.InternalIP,
		HostIPs:            []corev1.HostIP{{IP: n.opts.InternalIP}},
		PodIP:              ip.String(),
		PodIPs:             []corev1.PodIP{{IP: ip.String()}},
		StartTime:          &start,
		QOSClass:           old.QOSClass,
		NominatedNodeName:  old.NominatedNodeName,
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}
		if t != corev1.PodScheduled {
			c.ObservedGeneration = pod.Generation
		}
		if prev := podCondition(&old, t); prev != nil && prev.Status == corev1.ConditionTrue {
			c.LastTransitionTime = prev.LastTransitionTime
			c.LastProbeTime = prev.LastProbeTime
		}
		s.Conditions = append(s.Conditions, c)
	}
	// Conditions owned by others (readiness gates, DisruptionTarget) stay.
	for _, c := range old.Conditions {
		if podCondition(&s, c.Type) == nil {
			s.Conditions = append(s.Conditions, c)
		}
	}
	started := true
	for _, c := range pod.Spec.InitContainers {
		cs := previous(old.InitContainerStatuses, c.Name, c.Image, start)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}
			cs.Started = &started
		} else {
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: start, FinishedAt: start, ContainerID: cs.ContainerID}}
			cs.Started = new(bool)
		}
		cs.Ready = true
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
	}
	for _, c := range pod.Spec.Containers {
		cs := previous(old.ContainerStatuses, c.Name, c.Image, start)
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: cs.State.Running.StartedAt}}
		cs.Ready = true
		cs.Started = &started
		// A hollow container "applies" its spec's resources at once, so
		// that an in-place resize (pods/resize) completes as on a node.
		cs.Resources = &corev1.ResourceRequirements{Requests: cpuAndMemory(c.Resources.Requests), Limits: cpuAndMemory(c.Resources.Limits)}
		cs.AllocatedResources = cpuAndMemory(c.Resources.Requests)
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	return s
}

// cpuAndMemory keeps the CPU and memory of l (nil when it has neither), what
// a container's status reports of its resources.
func cpuAndMemory(l corev1.ResourceList) corev1.ResourceList {
	var out corev1.ResourceList
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := l[name]; ok {
			if out == nil {
				out = corev1.ResourceList{}
			}
			out[name] = q
		}
	}
	return out
}

// previous is the container's status from an earlier post (same container ID
// and start), or a new one.
func previous(statuses []corev1.ContainerStatus, name, image string, start metav1.Time) corev1.ContainerStatus {
	for _, cs := range statuses {
		if cs.Name == name && cs.ContainerID != "" {
			startedAt := start
			if cs.State.Running != nil {
				startedAt = cs.State.Running.StartedAt
			}
			return corev1.ContainerStatus{Name: name, Image: image, ImageID: "hollow://" + image, ContainerID: cs.ContainerID,
				RestartCount: cs.RestartCount, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}}
		}
	}
	return corev1.ContainerStatus{Name: name, Image: image, ImageID: "hollow://" + image, ContainerID: "hollow://" + randomID(),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}}
}

func podCondition(s *corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

func randomID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
