package endpoints

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/net"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
)

// maxCapacity is upstream's cap on the addresses one Endpoints object lists;
// beyond it the list is truncated and annotated as over capacity.
const maxCapacity = 1000

// backend is one pod as the Service's endpoints show it.
type backend struct {
	addr  corev1.EndpointAddress
	ready bool
	ports []corev1.EndpointPort
}

// buildSubsets lists the pods behind svc as Endpoints subsets: one subset per
// distinct set of resolved ports, each with its ready and not-ready addresses,
// everything sorted so that equal inputs give equal output.
func buildSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	groups := map[string]*corev1.EndpointSubset{}
	var keys []string
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	for _, pod := range pods {
		if !backends.InEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		b, ok := podBackend(svc, pod)
		if !ok {
			continue
		}
		if len(svc.Spec.Ports) == 0 {
			if !headless {
				continue // a Service with a ClusterIP always has ports; nothing to serve
			}
		} else if len(b.ports) == 0 {
			continue // the pod serves none of the Service's ports
		}
		key := portsKey(b.ports)
		ss := groups[key]
		if ss == nil {
			ss = &corev1.EndpointSubset{Ports: b.ports}
			groups[key] = ss
			keys = append(keys, key)
		}
		if b.ready {
			ss.Addresses = append(ss.Addresses, b.addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, b.addr)
		}
	}
	slices.Sort(keys)
	out := make([]corev1.EndpointSubset, 0, len(keys))
	for _, k := range keys {
		ss := groups[k]
		sortAddresses(ss.Addresses)
		sortAddresses(ss.NotReadyAddresses)
		out = append(out, *ss)
	}
	return out
}

// podBackend is the pod's address (of the Service's primary IP family) and
// the Service ports it serves.
func podBackend(svc *corev1.Service, pod *corev1.Pod) (backend, bool) {
	ip := backends.PodIPOfFamily(pod, primaryIsIPv6(svc, pod))
	if ip == "" {
		return backend{}, false
	}
	addr := corev1.EndpointAddress{
		IP: ip,
		TargetRef: &corev1.ObjectReference{
			Kind:      "Pod",
			Namespace: pod.Namespace,
			Name:      pod.Name,
			UID:       pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		node := pod.Spec.NodeName
		addr.NodeName = &node
	}
	if backends.ShouldSetHostname(pod, svc) {
		addr.Hostname = pod.Spec.Hostname
	}
	b := backend{
		addr:  addr,
		ready: svc.Spec.PublishNotReadyAddresses || backends.IsPodReady(pod),
	}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := backends.FindPort(pod, sp)
		if err != nil {
			continue
		}
		b.ports = append(b.ports, corev1.EndpointPort{
			Name:        sp.Name,
			Port:        port,
			Protocol:    sp.Protocol,
			AppProtocol: sp.AppProtocol,
		})
	}
	slices.SortFunc(b.ports, comparePorts)
	return b, true
}

// primaryIsIPv6 picks the address family an Endpoints lists: the Service's
// first IP family, else its ClusterIP's, else (headless, unset) the pod's.
func primaryIsIPv6(svc *corev1.Service, pod *corev1.Pod) bool {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		return net.IsIPv6String(ip)
	}
	return net.IsIPv6String(pod.Status.PodIP)
}

func comparePorts(a, b corev1.EndpointPort) int {
	return cmp.Or(
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Port, b.Port),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(appProtocol(a), appProtocol(b)),
	)
}

func appProtocol(p corev1.EndpointPort) string {
	if p.AppProtocol == nil {
		return ""
	}
	return *p.AppProtocol
}

func portsKey(ports []corev1.EndpointPort) string {
	var sb strings.Builder
	for _, p := range ports {
		sb.WriteString(p.Name)
		sb.WriteByte('/')
		sb.WriteString(strconv.Itoa(int(p.Port)))
		sb.WriteByte('/')
		sb.WriteString(string(p.Protocol))
		sb.WriteByte('/')
		sb.WriteString(appProtocol(p))
		sb.WriteByte(';')
	}
	return sb.String()
}

// sortAddresses orders addresses by IP, then pod UID (hostNetwork pods share
// an IP), parsing each address once.
func sortAddresses(addrs []corev1.EndpointAddress) {
	if len(addrs) < 2 {
		return
	}
	type keyed struct {
		ip  netip.Addr
		uid string
		i   int
	}
	ks := make([]keyed, len(addrs))
	for i, a := range addrs {
		ip, _ := netip.ParseAddr(a.IP)
		ks[i] = keyed{ip, uidOf(a), i}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(a.ip.Compare(b.ip), cmp.Compare(a.uid, b.uid))
	})
	sorted := make([]corev1.EndpointAddress, len(addrs))
	for i, k := range ks {
		sorted[i] = addrs[k.i]
	}
	copy(addrs, sorted)
}

func uidOf(a corev1.EndpointAddress) string {
	if a.TargetRef == nil {
		return ""
	}
	return string(a.TargetRef.UID)
}

// truncate keeps at most maxCapacity addresses, as upstream does: ready ones
// first, each subset keeping its proportional share. It reports whether
// anything was dropped.
func truncate(subsets []corev1.EndpointSubset) ([]corev1.EndpointSubset, bool) {
	ready, notReady := 0, 0
	for _, ss := range subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	if ready+notReady <= maxCapacity {
		return subsets, false
	}
	readyOver := ready > maxCapacity
	budget, total := maxCapacity-ready, notReady
	if readyOver {
		budget, total = maxCapacity, ready
	}
	left := budget
	for i := range subsets {
		ss := &subsets[i]
		n := len(ss.NotReadyAddresses)
		if readyOver {
			n = len(ss.Addresses)
		}
		share := min(int(math.Ceil(float64(n)/float64(total)*float64(budget))), left)
		if readyOver {
			ss.Addresses = ss.Addresses[:min(len(ss.Addresses), share)]
			ss.NotReadyAddresses = nil
			left -= len(ss.Addresses)
		} else {
			ss.NotReadyAddresses = ss.NotReadyAddresses[:min(len(ss.NotReadyAddresses), share)]
			left -= len(ss.NotReadyAddresses)
		}
	}
	// A subset may have lost every address; the API refuses empty subsets.
	kept := subsets[:0]
	for _, ss := range subsets {
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			kept = append(kept, ss)
		}
	}
	clear(subsets[len(kept):])
	return kept, true
}
