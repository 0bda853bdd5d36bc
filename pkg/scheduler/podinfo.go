package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podInfo is what the scheduler derives from one version of a pod, computed once
// when the pod is seen so that the scheduling cycle only compares numbers.
type podInfo struct {
	pod      *corev1.Pod
	requests resources
	nonzero  resources // requests with the scoring defaults (milliCPU and memory only)
	ports    []hostPort
	owner    types.UID // UID of the controlling ownerReference, if any
	priority int32
	// preempted: the pod is terminating because a scheduler preempted it.
	preempted bool

	// Node constraints; nil when the pod has none of that kind.
	selector  nodeSelector // required node affinity
	preferred nodeSelector // preferred node affinity terms, with weights
}

func newPodInfo(pod *corev1.Pod) *podInfo {
	pi := &podInfo{pod: pod}
	pi.requests, pi.nonzero = podRequests(&pod.Spec)
	pi.ports = podHostPorts(&pod.Spec)
	for i := range pod.OwnerReferences {
		if ref := &pod.OwnerReferences[i]; ref.Controller != nil && *ref.Controller {
			pi.owner = ref.UID
			break
		}
	}
	if pod.Spec.Priority != nil {
		pi.priority = *pod.Spec.Priority
	}
	if pod.DeletionTimestamp != nil {
		pi.preempted = preemptedByScheduler(pod)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		if req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			pi.selector = make(nodeSelector, 0, len(req.NodeSelectorTerms))
			for i := range req.NodeSelectorTerms {
				pi.selector = append(pi.selector, parseTerm(&req.NodeSelectorTerms[i]))
			}
		}
		for i := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			p := &a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
			if p.Weight == 0 {
				continue
			}
			t := parseTerm(&p.Preference)
			t.weight = p.Weight
			pi.preferred = append(pi.preferred, t)
		}
	}
	return pi
}

// counted is what the cache keeps of a pod it counts on a node: the numbers,
// not the object, which would keep every bound pod's version of the moment
// alive beside the informer's current one.
func (pi *podInfo) counted() *podInfo {
	c := *pi
	c.pod = nil
	return &c
}

func (pi *podInfo) key() string { return pi.pod.Namespace + "/" + pi.pod.Name }

// hostPort is one host port a pod holds, normalised: an empty IP is 0.0.0.0 and
// an empty protocol TCP.
type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

const anyIP = "0.0.0.0"

func podHostPorts(spec *corev1.PodSpec) []hostPort {
	var out []hostPort
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
			if hp.ip == "" {
				hp.ip = anyIP
			}
			if hp.protocol == "" {
				hp.protocol = corev1.ProtocolTCP
			}
			out = append(out, hp)
		}
	}
	for i := range spec.Containers {
		add(&spec.Containers[i])
	}
	// Sidecars hold their ports for the pod's whole life.
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	return out
}

// isTerminal reports whether a pod has finished and so no longer takes anything
// from its node.
func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
