package backends

import (
	"fmt"
	"net/netip"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	for i := range pod.Status.Conditions {
		if c := &pod.Status.Conditions[i]; c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyCondition is the pod's Ready condition, or nil.
func readyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if c := &pod.Status.Conditions[i]; c.Type == corev1.PodReady {
			return c
		}
	}
	return nil
}

// IsTerminal reports whether the pod has finished for good (Succeeded or Failed).
func IsTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// InEndpoints reports whether the pod belongs in a Service's endpoints at all:
// it has an IP, has not finished, and is not being deleted unless the caller
// keeps terminating pods (EndpointSlices always do; Endpoints only for
// publishNotReadyAddresses).
func InEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if IsTerminal(pod) {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// PodIPs lists the pod's addresses, canonicalised: status.podIPs, or
// status.podIP when a writer filled only that.
func PodIPs(pod *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	if len(pod.Status.PodIPs) == 0 {
		add(pod.Status.PodIP)
		return out
	}
	for _, ip := range pod.Status.PodIPs {
		add(ip.IP)
	}
	return out
}

// PodIPOfFamily is the pod's first address of the family (IPv6 or not), or "".
func PodIPOfFamily(pod *corev1.Pod, ipv6 bool) string {
	for _, a := range PodIPs(pod) {
		if a.Is6() == ipv6 {
			return a.String()
		}
	}
	return ""
}

// FindPort resolves a Service port's targetPort against the pod: a number is
// used as is; a name is looked up among the containers' (and restartable init
// containers') named ports of the same protocol. A pod without the named port
// does not serve that Service port.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	switch sp.TargetPort.Type {
	case intstr.Int:
		if sp.TargetPort.IntVal == 0 {
			return sp.Port, nil
		}
		return sp.TargetPort.IntVal, nil
	case intstr.String:
		name := sp.TargetPort.StrVal
		if name == "" {
			return sp.Port, nil
		}
		proto := protocolOrTCP(sp.Protocol)
		for i := range pod.Spec.Containers {
			if p, ok := namedPort(pod.Spec.Containers[i].Ports, name, proto); ok {
				return p, nil
			}
		}
		for i := range pod.Spec.InitContainers {
			c := &pod.Spec.InitContainers[i]
			if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				continue
			}
			if p, ok := namedPort(c.Ports, name, proto); ok {
				return p, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s/%s has no port %q for %s", pod.Namespace, pod.Name, sp.TargetPort.String(), protocolOrTCP(sp.Protocol))
}

func namedPort(ports []corev1.ContainerPort, name string, proto corev1.Protocol) (int32, bool) {
	for _, p := range ports {
		if p.Name == name && protocolOrTCP(p.Protocol) == proto {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// ShouldSetHostname reports whether the endpoint carries the pod's hostname:
// the pod names this Service as its subdomain.
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// PodChanged compares two versions of a pod as the endpoints see it. changed
// is true when its endpoint may differ (deletion, readiness, phase, IPs);
// relabelled when the Services it belongs to may differ (labels, hostname,
// subdomain).
func PodChanged(old, cur *corev1.Pod) (changed, relabelled bool) {
	relabelled = !reflect.DeepEqual(old.Labels, cur.Labels) ||
		old.Spec.Hostname != cur.Spec.Hostname || old.Spec.Subdomain != cur.Spec.Subdomain
	switch {
	case (old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil):
		changed = true
	case IsPodReady(old) != IsPodReady(cur):
		changed = true
	case IsTerminal(old) != IsTerminal(cur):
		changed = true
	case old.Status.PodIP != cur.Status.PodIP || !reflect.DeepEqual(old.Status.PodIPs, cur.Status.PodIPs):
		changed = true
	case old.Spec.NodeName != cur.Spec.NodeName:
		changed = true
	}
	return changed, relabelled
}
