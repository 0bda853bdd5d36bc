package endpointslicemirroring

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	netutils "k8s.io/utils/net"
	"k8s.io/utils/ptr"
)

// leaderElectionAnnotation marks an Endpoints object used as a lock by an old
// leader election client: it lists no endpoints, and its frequent renewals
// would churn the slices.
const leaderElectionAnnotation = "control-plane.alpha.kubernetes.io/leader"

// shouldMirror reports whether the Endpoints object itself allows mirroring
// (whether its Service does is checked apart).
func shouldMirror(ep *corev1.Endpoints) bool {
	_, lock := ep.Annotations[leaderElectionAnnotation]
	return ep.Labels[discoveryv1.LabelSkipMirror] != "true" && !lock
}

// mirror is what an Endpoints object should be as slices.
type mirror struct {
	slices []*discoveryv1.EndpointSlice
	// invalid counts addresses that are not IPs; overCap those left out for
	// the per-subset limit.
	invalid, overCap int
}

// mirrorOf builds the slices of ep: its subsets regrouped as the API
// canonicalizes them, then one slice per address type of each subset, with at
// most limit of the subset's addresses (ready ones first).
func mirrorOf(ep *corev1.Endpoints, limit int) mirror {
	var m mirror
	for _, ss := range repack(ep.Subsets) {
		ports := slicePorts(ss.Ports)
		byType := map[discoveryv1.AddressType]*discoveryv1.EndpointSlice{}
		added := 0
		add := func(a corev1.EndpointAddress, ready bool) {
			if added >= limit {
				m.overCap++
				return
			}
			e, at, ok := sliceEndpoint(a, ready)
			if !ok {
				m.invalid++
				return
			}
			s := byType[at]
			if s == nil {
				s = newSlice(ep, ports, at)
				byType[at] = s
				m.slices = append(m.slices, s)
			}
			s.Endpoints = append(s.Endpoints, e)
			added++
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
	}
	return m
}

// newSlice is an empty slice mirroring ep for a port set and address type.
func newSlice(ep *corev1.Endpoints, ports []discoveryv1.EndpointPort, at discoveryv1.AddressType) *discoveryv1.EndpointSlice {
	labels := maps.Clone(ep.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[discoveryv1.LabelServiceName] = ep.Name
	labels[discoveryv1.LabelManagedBy] = ControllerName
	annotations := maps.Clone(ep.Annotations)
	// The trigger time is the endpoints controller's measure, and the applied
	// configuration is the user's Endpoints manifest: neither describes the slice.
	delete(annotations, corev1.EndpointsLastChangeTriggerTime)
	delete(annotations, corev1.LastAppliedConfigAnnotation)
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ep.Name + "-",
			Namespace:       ep.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ep, schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"})},
		},
		AddressType: at,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
}

// sliceEndpoint is an Endpoints address as a slice endpoint of its address
// type, or false when it is not an IP.
func sliceEndpoint(a corev1.EndpointAddress, ready bool) (discoveryv1.Endpoint, discoveryv1.AddressType, bool) {
	// Sloppy, as the Endpoints API accepts leading zeros; the slice gets the
	// canonical form.
	ip := netutils.ParseIPSloppy(a.IP)
	if ip == nil {
		return discoveryv1.Endpoint{}, "", false
	}
	at := discoveryv1.AddressTypeIPv4
	if ip.To4() == nil {
		at = discoveryv1.AddressTypeIPv6
	}
	e := discoveryv1.Endpoint{
		Addresses:  []string{ip.String()},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
		TargetRef:  a.TargetRef,
		NodeName:   a.NodeName,
	}
	if a.Hostname != "" {
		e.Hostname = ptr.To(a.Hostname)
	}
	return e, at, true
}

func slicePorts(ports []corev1.EndpointPort) []discoveryv1.EndpointPort {
	out := make([]discoveryv1.EndpointPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, discoveryv1.EndpointPort{
			Name:        ptr.To(p.Name),
			Port:        ptr.To(p.Port),
			Protocol:    ptr.To(p.Protocol),
			AppProtocol: p.AppProtocol,
		})
	}
	return out
}

// addressID is what makes two Endpoints addresses the same one.
type addressID struct {
	ip  string
	uid types.UID
}

func idOf(a *corev1.EndpointAddress) addressID {
	id := addressID{ip: a.IP}
	if a.TargetRef != nil {
		id.uid = a.TargetRef.UID
	}
	return id
}

// repack regroups subsets into the API's canonical form: every port lists
// the addresses that serve it once (not ready if any subset says so), ports
// served by the same addresses with the same readiness share one subset, and
// everything is sorted. A subset without ports keeps its addresses.
func repack(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	type portGroup struct {
		port  *corev1.EndpointPort // nil for addresses without ports
		ready map[addressID]bool
	}
	addrs := map[addressID]corev1.EndpointAddress{}
	byPort := map[string]*portGroup{}
	note := func(port *corev1.EndpointPort, a *corev1.EndpointAddress, ready bool) {
		id := idOf(a)
		if _, seen := addrs[id]; !seen {
			addrs[id] = *a
		}
		key := "-"
		if port != nil {
			key = fmt.Sprintf("%s/%d/%s/%s", port.Name, port.Port, port.Protocol, ptr.Deref(port.AppProtocol, ""))
		}
		g := byPort[key]
		if g == nil {
			g = &portGroup{port: port, ready: map[addressID]bool{}}
			byPort[key] = g
		}
		if was, seen := g.ready[id]; !seen || was {
			g.ready[id] = ready
		}
	}
	for i := range subsets {
		ss := &subsets[i]
		ports := []*corev1.EndpointPort{nil}
		if len(ss.Ports) > 0 {
			ports = ports[:0]
			for j := range ss.Ports {
				ports = append(ports, &ss.Ports[j])
			}
		}
		for _, p := range ports {
			for j := range ss.Addresses {
				note(p, &ss.Addresses[j], true)
			}
			for j := range ss.NotReadyAddresses {
				note(p, &ss.NotReadyAddresses[j], false)
			}
		}
	}

	bySet := map[string]*corev1.EndpointSubset{}
	for _, g := range byPort {
		ids := slices.SortedFunc(maps.Keys(g.ready), compareIDs)
		var key strings.Builder
		for _, id := range ids {
			fmt.Fprintf(&key, "%s/%s/%t;", id.ip, id.uid, g.ready[id])
		}
		ss := bySet[key.String()]
		if ss == nil {
			ss = &corev1.EndpointSubset{}
			for _, id := range ids {
				if g.ready[id] {
					ss.Addresses = append(ss.Addresses, addrs[id])
				} else {
					ss.NotReadyAddresses = append(ss.NotReadyAddresses, addrs[id])
				}
			}
			bySet[key.String()] = ss
		}
		if g.port != nil {
			ss.Ports = append(ss.Ports, *g.port)
		}
	}
	out := make([]corev1.EndpointSubset, 0, len(bySet))
	for _, ss := range bySet {
		slices.SortFunc(ss.Ports, comparePorts)
		out = append(out, *ss)
	}
	// No two subsets share a port, so their ports order them.
	slices.SortFunc(out, func(a, b corev1.EndpointSubset) int { return slices.CompareFunc(a.Ports, b.Ports, comparePorts) })
	return out
}

func compareIDs(a, b addressID) int {
	return cmp.Or(strings.Compare(a.ip, b.ip), strings.Compare(string(a.uid), string(b.uid)))
}

func comparePorts(a, b corev1.EndpointPort) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)),
		strings.Compare(ptr.Deref(a.AppProtocol, ""), ptr.Deref(b.AppProtocol, "")))
}
