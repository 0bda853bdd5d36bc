package agent

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// rejection is why a kubelet refuses a pod at admission: the pod's status
// reason, and the message that follows "Pod was rejected: ".
type rejection struct{ reason, message string }

// The predicates a kubelet checks at admission, named as upstream names them;
// each failure's reason is the name, its message "Predicate NAME failed: DESC".
const (
	predNodeAffinity    = "NodeAffinity"
	predNodeName        = "NodeName"
	predNodePorts       = "NodePorts"
	predTaintToleration = "TaintToleration"
)

var predicateDesc = map[string]string{
	predNodeAffinity:    "node(s) didn't match Pod's node affinity/selector",
	predNodeName:        "node(s) didn't match the requested node name",
	predNodePorts:       "node(s) didn't have free ports for the requested pod ports",
	predTaintToleration: "node(s) had taints that the pod didn't tolerate",
}

func predicateFailure(name string) rejection {
	return rejection{reason: name, message: fmt.Sprintf("Predicate %s failed: %s", name, predicateDesc[name])}
}

// admissionFailures checks a pod newly bound to node against the pods already
// admitted there (running or about to, not finished) as a kubelet's predicate
// admit handler does, and returns every reason to refuse it in upstream's
// order; the first is the one the pod's status reports. None: it may run.
func admissionFailures(pod *corev1.Pod, node *corev1.Node, admitted []*corev1.Pod) []rejection {
	// What preempting other pods could not fix comes first.
	nodeOS, ok := node.Labels[corev1.LabelOSStable]
	if !ok || nodeOS != runtime.GOOS {
		nodeOS = runtime.GOOS
	}
	if podOS, ok := pod.Labels[corev1.LabelOSStable]; ok && podOS != nodeOS {
		return []rejection{{"PodOSSelectorNodeLabelDoesNotMatch", "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label"}}
	}
	if pod.Spec.OS != nil && string(pod.Spec.OS.Name) != runtime.GOOS {
		return []rejection{{"PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS"}}
	}

	out := resourceFailures(pod, node, admitted)
	if ok, _ := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); !ok {
		out = append(out, predicateFailure(predNodeAffinity))
	}
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		out = append(out, predicateFailure(predNodeName))
	}
	if portsConflict(pod, admitted) {
		out = append(out, predicateFailure(predNodePorts))
	}
	// Of the taints, the kubelet minds only NoExecute ones.
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectNoExecute && !tolerated(pod.Spec.Tolerations, t) {
			out = append(out, predicateFailure(predTaintToleration))
			break
		}
	}
	return out
}

// onlyAffinity is true when the node's labels are all that stand in the way
// (they may have changed since the node was last seen).
func onlyAffinity(rs []rejection) bool {
	for _, r := range rs {
		if r.reason != predNodeAffinity {
			return false
		}
	}
	return len(rs) > 0
}

// resourceFailures checks the pod's requests against what the node can
// allocate less what the admitted pods request, as the scheduler's
// NodeResourcesFit does: the pod count first, then CPU, memory, ephemeral
// storage and the scalar resources (hugepages, extended resources the node
// has; extended resources it lacks are left to the cluster).
func resourceFailures(pod *corev1.Pod, node *corev1.Node, admitted []*corev1.Pod) []rejection {
	alloc := node.Status.Allocatable
	var out []rejection
	fail := func(name corev1.ResourceName, requested, used, capacity int64) {
		reason := "OutOf" + string(name)
		out = append(out, rejection{reason, fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, requested, used, capacity)})
	}
	if maxPods := alloc.Pods().Value(); int64(len(admitted))+1 > maxPods {
		fail(corev1.ResourcePods, 1, int64(len(admitted)), maxPods)
	}
	want := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	for name := range want {
		if isExtendedResource(name) {
			if _, ok := alloc[name]; !ok {
				delete(want, name)
			}
		}
	}
	used := corev1.ResourceList{}
	for _, p := range admitted {
		for name, q := range resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}) {
			u := used[name]
			u.Add(q)
			used[name] = u
		}
	}
	amount := func(rl corev1.ResourceList, name corev1.ResourceName) int64 {
		q, ok := rl[name]
		if !ok {
			return 0
		}
		if name == corev1.ResourceCPU {
			return q.MilliValue()
		}
		return q.Value()
	}
	check := func(name corev1.ResourceName) {
		req := amount(want, name)
		if req > 0 && req > amount(alloc, name)-amount(used, name) {
			fail(name, req, amount(used, name), amount(alloc, name))
		}
	}
	check(corev1.ResourceCPU)
	check(corev1.ResourceMemory)
	check(corev1.ResourceEphemeralStorage)
	var scalars []string
	for name := range want {
		if isScalarResource(name) {
			scalars = append(scalars, string(name))
		}
	}
	sort.Strings(scalars)
	for _, name := range scalars {
		check(corev1.ResourceName(name))
	}
	return out
}

// isNativeResource: no domain, or a kubernetes.io one.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

// isExtendedResource: a device plugin's or the cluster's resource.
func isExtendedResource(name corev1.ResourceName) bool {
	return !isNativeResource(name) && !strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix)
}

// isScalarResource: counted by name rather than as CPU, memory or storage.
func isScalarResource(name corev1.ResourceName) bool {
	n := string(name)
	return isExtendedResource(name) || strings.HasPrefix(n, corev1.ResourceHugePagesPrefix) ||
		strings.HasPrefix(n, corev1.ResourceAttachableVolumesPrefix) ||
		strings.Contains(n, corev1.ResourceDefaultNamespacePrefix)
}

// hostPortKey is a host port with upstream's defaults filled in: no IP is
// 0.0.0.0, no protocol TCP.
type hostPortKey struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

const anyHostIP = "0.0.0.0"

// hostPorts lists the host ports a pod holds for its whole life: its
// containers' and its sidecars' (restartable init containers).
func hostPorts(pod *corev1.Pod) []hostPortKey {
	var out []hostPortKey
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			k := hostPortKey{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
			if k.ip == "" {
				k.ip = anyHostIP
			}
			if k.protocol == "" {
				k.protocol = corev1.ProtocolTCP
			}
			out = append(out, k)
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

// portsConflict is true when the pod wants a host port an admitted pod holds:
// the same protocol and port on the same IP, or on any IP when either side
// binds 0.0.0.0.
func portsConflict(pod *corev1.Pod, admitted []*corev1.Pod) bool {
	want := hostPorts(pod)
	if len(want) == 0 {
		return false
	}
	for _, other := range admitted {
		for _, held := range hostPorts(other) {
			for _, w := range want {
				if w.port == held.port && w.protocol == held.protocol &&
					(w.ip == held.ip || w.ip == anyHostIP || held.ip == anyHostIP) {
					return true
				}
			}
		}
	}
	return false
}

// tolerated is true when one of the tolerations tolerates the taint.
func tolerated(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		t := &tolerations[i]
		if t.Effect != "" && t.Effect != taint.Effect {
			continue
		}
		if t.Key != "" && t.Key != taint.Key {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			return true
		case corev1.TolerationOpEqual, "":
			if t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}

// needsAdmission is true for a pod new to the node: not finished, not being
// deleted, and never started here (no status from a kubelet, no sandbox in
// the runtime when the agent started). Pods already running are adopted as
// they are.
func (a *Agent) needsAdmission(pod *corev1.Pod) bool {
	return !isTerminal(pod.Status.Phase) && pod.DeletionTimestamp == nil &&
		pod.Status.StartTime == nil && pod.Status.Phase != corev1.PodRunning && !a.ranBefore[pod.UID]
}

// admit decides on a pod new to the node (admitMu held): nil admits it, else
// the rejection is recorded as an event and the pod's worker posts it.
func (a *Agent) admit(ctx context.Context, pod *corev1.Pod) *rejection {
	node := a.currentNode()
	if node == nil {
		return &rejection{"InvalidNodeInfo", "Kubelet cannot get node info."}
	}
	admitted := a.admittedPods()
	rs := admissionFailures(pod, node, admitted)
	if onlyAffinity(rs) {
		// The node's labels may be newer than the informer's copy: look
		// again before refusing, as a kubelet does.
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fresh, err := a.client.CoreV1().Nodes().Get(gctx, a.opts.NodeName, metav1.GetOptions{})
		cancel()
		if err == nil {
			rs = admissionFailures(pod, fresh, admitted)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	r := rs[0]
	a.log.Info("pod rejected", "pod", klogKey(pod), "reason", r.reason, "message", r.message)
	a.event(pod, corev1.EventTypeWarning, r.reason, "%s", r.message)
	return &r
}

// currentNode is this node as the informer last saw it (as registered until
// then).
func (a *Agent) currentNode() *corev1.Node {
	if a.nodes != nil {
		if n, err := a.nodes.Get(a.opts.NodeName); err == nil {
			return n
		}
	}
	return a.registered
}

// admittedPods are the pods the agent admitted that are still alive.
func (a *Agent) admittedPods() []*corev1.Pod {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(a.workers))
	for _, w := range a.workers {
		if w.rejected != nil {
			continue
		}
		p, removed := w.snapshot()
		if p == nil || removed || isTerminal(p.Status.Phase) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// admitWaiting admits the new pods the informer listed at start, oldest
// first (as a kubelet handles a batch of additions), and from then on each
// new pod as it comes.
func (a *Agent) admitWaiting(ctx context.Context) {
	a.admitMu.Lock()
	defer a.admitMu.Unlock()
	a.admitOpen = true
	pods, err := a.startOrder()
	if err != nil {
		a.log.Error("listing pods", "err", err)
		return
	}
	for _, p := range pods {
		a.addPod(ctx, p)
	}
}

// startOrder lists the node's pods as the agent takes them on at start: the
// ones it does not admit (already running here, finished, being deleted)
// first, as they hold what they hold; then the new ones, oldest first.
func (a *Agent) startOrder() ([]*corev1.Pod, error) {
	pods, err := a.pods.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	rank := func(p *corev1.Pod) int {
		if a.needsAdmission(p) {
			return 1
		}
		return 0
	}
	sort.Slice(pods, func(i, j int) bool {
		x, y := pods[i], pods[j]
		if rank(x) != rank(y) {
			return rank(x) < rank(y)
		}
		if !x.CreationTimestamp.Equal(&y.CreationTimestamp) {
			return x.CreationTimestamp.Before(&y.CreationTimestamp)
		}
		return klogKey(x) < klogKey(y)
	})
	return pods, nil
}

// podsInRuntime lists the pods the runtime holds sandboxes of.
func (a *Agent) podsInRuntime(ctx context.Context) map[types.UID]bool {
	out := map[types.UID]bool{}
	resp, err := a.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		a.log.Warn("listing the runtime's sandboxes", "err", err)
		return out
	}
	for _, sb := range resp.Items {
		if uid := sb.Labels[labelPodUID]; uid != "" {
			out[types.UID(uid)] = true
		}
	}
	return out
}

// postRejection posts a rejected pod's status once: Failed, with the reason
// and message, and nothing started.
func (w *podWorker) postRejection(ctx context.Context, pod *corev1.Pod) {
	r := w.rejected
	msg := "Pod was rejected: " + r.message
	old := pod.Status
	if old.Phase == corev1.PodFailed && old.Reason == r.reason && old.Message == msg {
		return
	}
	st := corev1.PodStatus{
		Phase:                 corev1.PodFailed,
		Reason:                r.reason,
		Message:               msg,
		QOSClass:              old.QOSClass,
		StartTime:             old.StartTime,
		ResourceClaimStatuses: old.ResourceClaimStatuses,
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	if st.StartTime == nil {
		now := metav1.NewTime(timeNow())
		st.StartTime = &now
	}
	for _, c := range old.Conditions {
		if !ownedCondition(c.Type) {
			st.Conditions = append(st.Conditions, c)
		}
	}
	w.post(ctx, pod, st)
}
