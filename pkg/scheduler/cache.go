package scheduler

import (
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Taints the scheduler reads into a node that is not Ready, as upstream's node
// lifecycle controller writes them (TaintNodesByCondition): a pod must tolerate
// them to land on such a node.
const (
	taintNotReady      = "node.kubernetes.io/not-ready"
	taintUnreachable   = "node.kubernetes.io/unreachable"
	taintUnschedulable = "node.kubernetes.io/unschedulable"
)

// nodeInfo is one node and the running totals of the pods on it (bound or
// assumed). Totals change incrementally as pods come and go; nothing is
// recomputed from the pod list.
type nodeInfo struct {
	name string
	node *corev1.Node // nil while only pods name the node

	// Derived from the node object.
	unschedulable  bool
	taints         []corev1.Taint // NoSchedule and NoExecute, plus the readiness taint
	preferNoSched  []corev1.Taint // PreferNoSchedule
	allocatable    resources
	allocatablePod int64

	// Totals over the pods on the node.
	pods       int
	requested  resources
	nonzero    resources
	ports      map[portKey]map[string]int // protocol+port -> host IP -> users
	priorities map[int32]int              // how many pods of each priority

	// nominated are the pending pods preemption made room for here: a pod
	// that matters less must not take their place (see fitsWithNominated).
	nominated []nominee
}

// nominee is a pending pod nominated to a node.
type nominee struct {
	uid             types.UID
	namespace, name string
	info            *podInfo // counted()
}

type portKey struct {
	protocol corev1.Protocol
	port     int32
}

func newNodeInfo(name string) *nodeInfo {
	return &nodeInfo{name: name}
}

func (n *nodeInfo) setNode(node *corev1.Node) {
	n.node = node
	n.unschedulable = node.Spec.Unschedulable
	n.taints, n.preferNoSched = n.taints[:0], n.preferNoSched[:0]
	for _, t := range node.Spec.Taints {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute:
			n.taints = append(n.taints, t)
		case corev1.TaintEffectPreferNoSchedule:
			n.preferNoSched = append(n.preferNoSched, t)
		}
	}
	if key := readinessTaint(node); key != "" && !hasTaint(n.taints, key, corev1.TaintEffectNoSchedule) {
		n.taints = append(n.taints, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
	}
	n.allocatable = fromList(node.Status.Allocatable)
	n.allocatablePod = node.Status.Allocatable.Pods().Value()
}

func hasTaint(taints []corev1.Taint, key string, effect corev1.TaintEffect) bool {
	for _, t := range taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// readinessTaint is the taint upstream's node lifecycle controller puts on a node
// that is not Ready: not-ready when the node says it is not, unreachable when it
// has stopped saying anything. Reading it from the condition here makes a
// not-ready node unschedulable whether or not a controller has tainted it yet.
func readinessTaint(node *corev1.Node) string {
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if c.Type != corev1.NodeReady {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			return ""
		case corev1.ConditionFalse:
			return taintNotReady
		default:
			return taintUnreachable
		}
	}
	// A node that never reported is not ready yet (the kubelet registers with
	// the not-ready taint).
	return taintNotReady
}

func (n *nodeInfo) addPod(pi *podInfo, sign int) {
	n.pods += sign
	if sign > 0 {
		n.requested.add(&pi.requests)
		n.nonzero.add(&pi.nonzero)
	} else {
		n.requested.sub(&pi.requests)
		n.nonzero.sub(&pi.nonzero)
	}
	for _, p := range pi.ports {
		k := portKey{p.protocol, p.port}
		if n.ports == nil {
			n.ports = map[portKey]map[string]int{}
		}
		ips := n.ports[k]
		if ips == nil {
			ips = map[string]int{}
			n.ports[k] = ips
		}
		ips[p.ip] += sign
		if ips[p.ip] <= 0 {
			delete(ips, p.ip)
			if len(ips) == 0 {
				delete(n.ports, k)
			}
		}
	}
	if n.priorities == nil {
		n.priorities = map[int32]int{}
	}
	n.priorities[pi.priority] += sign
	if n.priorities[pi.priority] <= 0 {
		delete(n.priorities, pi.priority)
	}
}

// portsConflict reports whether any of the wanted host ports is taken: the same
// protocol and port on the same IP, or on any IP when either side binds 0.0.0.0.
func (n *nodeInfo) portsConflict(want []hostPort) bool {
	for _, p := range want {
		ips := n.ports[portKey{p.protocol, p.port}]
		if len(ips) == 0 {
			continue
		}
		if p.ip == anyIP {
			return true
		}
		if ips[p.ip] > 0 || ips[anyIP] > 0 {
			return true
		}
	}
	return false
}

// hasLowerPriority reports whether a pod of lower priority than p runs here (a
// possible preemption victim).
func (n *nodeInfo) hasLowerPriority(p int32) bool {
	for prio := range n.priorities {
		if prio < p {
			return true
		}
	}
	return false
}

// podState is a pod the cache counts on a node.
type podState struct {
	info            *podInfo // counted(): without the pod object
	namespace, name string   // to find the object again, for preemption
	node            string
	assumed         bool // placed by this scheduler; the API has not shown it bound yet
}

// cache is the scheduler's picture of the cluster. The scheduling cycle holds mu
// while it reads; informer handlers and binders hold it to change the picture.
type cache struct {
	mu    sync.Mutex
	nodes map[string]*nodeInfo
	list  []*nodeInfo // nodes that exist as objects, sorted by name; rebuilt on add/remove
	pods  map[types.UID]*podState
	// owners counts each controller's pods per node, for spreading.
	owners map[types.UID]map[string]int
	// nominations maps each nominated pod to its node (nodeInfo.nominated).
	nominations map[types.UID]string
}

func newCache() *cache {
	return &cache{
		nodes:       map[string]*nodeInfo{},
		pods:        map[types.UID]*podState{},
		owners:      map[types.UID]map[string]int{},
		nominations: map[types.UID]string{},
	}
}

func (c *cache) nodeLocked(name string) *nodeInfo {
	n := c.nodes[name]
	if n == nil {
		n = newNodeInfo(name)
		c.nodes[name] = n
	}
	return n
}

func (c *cache) rebuildListLocked() {
	c.list = c.list[:0]
	for _, n := range c.nodes {
		if n.node != nil {
			c.list = append(c.list, n)
		}
	}
	sort.Slice(c.list, func(i, j int) bool { return c.list[i].name < c.list[j].name })
}

// setNode adds or updates a node.
func (c *cache) setNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(node.Name)
	added := n.node == nil
	n.setNode(node)
	if added {
		c.rebuildListLocked()
	}
}

// removeNode forgets a node object; pods still naming it keep their totals.
func (c *cache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	if n == nil {
		return
	}
	n.node = nil
	if n.pods == 0 {
		delete(c.nodes, name)
	}
	c.rebuildListLocked()
}

func (c *cache) placeLocked(pi *podInfo, node string, sign int) {
	n := c.nodeLocked(node)
	n.addPod(pi, sign)
	if pi.owner != "" {
		m := c.owners[pi.owner]
		if m == nil {
			m = map[string]int{}
			c.owners[pi.owner] = m
		}
		m[node] += sign
		if m[node] <= 0 {
			delete(m, node)
			if len(m) == 0 {
				delete(c.owners, pi.owner)
			}
		}
	}
	if sign < 0 && n.node == nil && n.pods == 0 && len(n.nominated) == 0 {
		delete(c.nodes, node)
	}
}

// assume counts a pod on the node the scheduler chose, before the binding is
// written, so that the next cycles see the node's capacity as taken.
func (c *cache) assumeLocked(pi *podInfo, node string) {
	if old := c.pods[pi.pod.UID]; old != nil {
		c.placeLocked(old.info, old.node, -1)
	}
	c.pods[pi.pod.UID] = &podState{info: pi.counted(), namespace: pi.pod.Namespace, name: pi.pod.Name, node: node, assumed: true}
	c.placeLocked(pi, node, +1)
	c.unnominateLocked(pi.pod.UID)
}

// forget undoes assume after a failed binding, unless the API has meanwhile
// shown the pod bound.
func (c *cache) forget(uid types.UID, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.pods[uid]
	if ps == nil || !ps.assumed || ps.node != node {
		return
	}
	c.placeLocked(ps.info, ps.node, -1)
	delete(c.pods, uid)
}

// setPod records a bound pod as the API shows it.
func (c *cache) setPod(pi *podInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid, node := pi.pod.UID, pi.pod.Spec.NodeName
	if old := c.pods[uid]; old != nil {
		c.placeLocked(old.info, old.node, -1)
	}
	c.pods[uid] = &podState{info: pi.counted(), namespace: pi.pod.Namespace, name: pi.pod.Name, node: node}
	c.placeLocked(pi, node, +1)
	c.unnominateLocked(uid)
}

// removePod stops counting a pod (deleted, finished, or never bound after all).
func (c *cache) removePod(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.pods[uid]
	if ps == nil {
		return false
	}
	c.placeLocked(ps.info, ps.node, -1)
	delete(c.pods, uid)
	return true
}

// isAssumed reports whether the scheduler has placed a pod that the API does not
// yet show bound.
func (c *cache) isAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.pods[uid]
	return ps != nil && ps.assumed
}

// nominateLocked records that preemption made room for a pending pod on a
// node, replacing any earlier nomination of it.
func (c *cache) nominateLocked(pi *podInfo, node string) {
	c.unnominateLocked(pi.pod.UID)
	n := c.nodeLocked(node)
	n.nominated = append(n.nominated, nominee{uid: pi.pod.UID, namespace: pi.pod.Namespace, name: pi.pod.Name, info: pi.counted()})
	c.nominations[pi.pod.UID] = node
}

// nominate is nominateLocked for the informer's handlers.
func (c *cache) nominate(pi *podInfo, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nominations[pi.pod.UID] != node {
		c.nominateLocked(pi, node)
	}
}

// unnominate forgets a pod's nomination (bound, deleted, or replaced).
func (c *cache) unnominate(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unnominateLocked(uid)
}

func (c *cache) unnominateLocked(uid types.UID) {
	name, ok := c.nominations[uid]
	if !ok {
		return
	}
	delete(c.nominations, uid)
	n := c.nodes[name]
	if n == nil {
		return
	}
	for i := range n.nominated {
		if n.nominated[i].uid == uid {
			n.nominated = append(n.nominated[:i], n.nominated[i+1:]...)
			break
		}
	}
	if n.node == nil && n.pods == 0 && len(n.nominated) == 0 {
		delete(c.nodes, name)
	}
}
