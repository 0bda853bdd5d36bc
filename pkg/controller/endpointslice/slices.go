package endpointslice

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/net"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
)

// addressTypes are the slice address types a Service gets: one per IP family,
// else its ClusterIP's, else (headless with no families yet) both.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			out = append(out, discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			out = append(out, discoveryv1.AddressTypeIPv6)
		}
	}
	if len(out) > 0 {
		return out
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		if net.IsIPv6String(ip) {
			return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv6}
		}
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4}
	}
	return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}
}

// podEndpoint is the pod as an endpoint of an address type, or false when it
// has no address of that type.
func podEndpoint(svc *corev1.Service, pod *corev1.Pod, at discoveryv1.AddressType) (discoveryv1.Endpoint, bool) {
	var addrs []string
	for _, a := range backends.PodIPs(pod) {
		if a.Is6() == (at == discoveryv1.AddressTypeIPv6) {
			addrs = append(addrs, a.String())
		}
	}
	if len(addrs) == 0 {
		return discoveryv1.Endpoint{}, false
	}
	serving := backends.IsPodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	// Ready is never true for a terminating pod unless the Service publishes
	// not-ready addresses: consumers that only know Ready must stop using it.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses: addrs,
		Conditions: discoveryv1.EndpointConditions{
			Ready:       ptr.To(ready),
			Serving:     ptr.To(serving),
			Terminating: ptr.To(terminating),
		},
		TargetRef: &corev1.ObjectReference{
			Kind:      "Pod",
			Namespace: pod.Namespace,
			Name:      pod.Name,
			UID:       pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = ptr.To(pod.Spec.NodeName)
	}
	if backends.ShouldSetHostname(pod, svc) {
		ep.Hostname = ptr.To(pod.Spec.Hostname)
	}
	return ep, true
}

// podPorts are the Service's ports as the pod serves them, in a canonical
// order. A pod lacking a named port simply does not serve that one.
func podPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := backends.FindPort(pod, sp)
		if err != nil {
			continue
		}
		out = append(out, discoveryv1.EndpointPort{
			Name:        ptr.To(sp.Name),
			Port:        ptr.To(port),
			Protocol:    ptr.To(sp.Protocol),
			AppProtocol: sp.AppProtocol,
		})
	}
	slices.SortFunc(out, func(a, b discoveryv1.EndpointPort) int {
		return cmp.Or(
			cmp.Compare(ptr.Deref(a.Name, ""), ptr.Deref(b.Name, "")),
			cmp.Compare(ptr.Deref(a.Port, 0), ptr.Deref(b.Port, 0)),
			cmp.Compare(ptr.Deref(a.Protocol, ""), ptr.Deref(b.Protocol, "")),
		)
	})
	return out
}

// portsKey identifies a set of ports regardless of order.
func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		parts = append(parts, ptr.Deref(p.Name, "")+"/"+strconv.Itoa(int(ptr.Deref(p.Port, 0)))+"/"+
			string(ptr.Deref(p.Protocol, corev1.ProtocolTCP))+"/"+ptr.Deref(p.AppProtocol, ""))
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

// endpointKey identifies an endpoint across syncs: the pod behind it and its
// first address.
func endpointKey(ep *discoveryv1.Endpoint) string {
	var uid string
	if ep.TargetRef != nil {
		uid = string(ep.TargetRef.UID)
	}
	var addr string
	if len(ep.Addresses) > 0 {
		addr = ep.Addresses[0]
	}
	return uid + "/" + addr
}

// sliceLabels are the Service's labels (but for the reserved ones) plus the
// service-name and managed-by labels and, for a headless Service, the
// headless mark.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := make(map[string]string, len(svc.Labels)+3)
	for k, v := range svc.Labels {
		if !reservedLabel(k) {
			out[k] = v
		}
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ControllerName
	return out
}

func reservedLabel(k string) bool {
	return k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService
}

// newSlice is an empty slice of the Service for a port set and address type.
func newSlice(svc *corev1.Service, ports []discoveryv1.EndpointPort, at discoveryv1.AddressType) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: svc.Name + "-",
			Namespace:    svc.Namespace,
			Labels:       sliceLabels(svc),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         "v1",
				Kind:               "Service",
				Name:               svc.Name,
				UID:                svc.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		AddressType: at,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
}

// ownedBy reports whether the Service (this very object, by UID) controls the slice.
func ownedBy(slice *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range slice.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// isPlaceholder reports whether the slice is the empty one a Service without
// endpoints keeps, with the labels it should have.
func isPlaceholder(slice *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	return len(slice.Endpoints) == 0 && len(slice.Ports) == 0 && maps.Equal(slice.Labels, sliceLabels(svc))
}

// endpointEqual compares two endpoints field by field: a sync compares every
// endpoint of a Service, and reflection costs most of the sync.
func endpointEqual(a, b *discoveryv1.Endpoint) bool {
	return slices.Equal(a.Addresses, b.Addresses) &&
		ptrEqual(a.Conditions.Ready, b.Conditions.Ready) &&
		ptrEqual(a.Conditions.Serving, b.Conditions.Serving) &&
		ptrEqual(a.Conditions.Terminating, b.Conditions.Terminating) &&
		ptrEqual(a.Hostname, b.Hostname) &&
		ptrEqual(a.NodeName, b.NodeName) &&
		ptrEqual(a.Zone, b.Zone) &&
		ptrEqual(a.TargetRef, b.TargetRef) &&
		maps.Equal(a.DeprecatedTopology, b.DeprecatedTopology) &&
		a.Hints == nil && b.Hints == nil
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
