package endpointslicemirroring

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func port(name string, n int32) corev1.EndpointPort {
	return corev1.EndpointPort{Name: name, Port: n, Protocol: corev1.ProtocolTCP}
}

func addrs(ips ...string) []corev1.EndpointAddress {
	var out []corev1.EndpointAddress
	for _, ip := range ips {
		out = append(out, corev1.EndpointAddress{IP: ip})
	}
	return out
}

// render shows slices one a line: address type, ports, then each address
// with + for ready and - for not ready.
func render(ss []*discoveryv1.EndpointSlice) string {
	var lines []string
	for _, s := range ss {
		var ports, eps []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", *p.Name, *p.Port))
		}
		for _, e := range s.Endpoints {
			mark := "-"
			if ptr.Deref(e.Conditions.Ready, false) {
				mark = "+"
			}
			eps = append(eps, mark+strings.Join(e.Addresses, ","))
		}
		lines = append(lines, fmt.Sprintf("%s [%s] %s", s.AddressType, strings.Join(ports, " "), strings.Join(eps, " ")))
	}
	return strings.Join(lines, "\n")
}

func TestMirrorOf(t *testing.T) {
	for _, tc := range []struct {
		name             string
		subsets          []corev1.EndpointSubset
		limit            int
		want             string
		invalid, overCap int
	}{
		{name: "the conformance test's endpoints",
			subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{port("", 80)}, Addresses: addrs("10.1.2.3")}},
			want:    "IPv4 [:80] +10.1.2.3"},
		{name: "subsets of one address on different ports become one slice",
			subsets: []corev1.EndpointSubset{
				{Ports: []corev1.EndpointPort{port("port80", 8090)}, Addresses: addrs("10.0.0.9")},
				{Ports: []corev1.EndpointPort{port("port81", 9090)}, Addresses: addrs("10.0.0.9")},
			},
			want: "IPv4 [port80:8090 port81:9090] +10.0.0.9"},
		{name: "different addresses keep their own port sets",
			subsets: []corev1.EndpointSubset{
				{Ports: []corev1.EndpointPort{port("a", 1)}, Addresses: addrs("10.0.0.2", "10.0.0.1")},
				{Ports: []corev1.EndpointPort{port("b", 2)}, Addresses: addrs("10.0.0.3")},
			},
			want: "IPv4 [a:1] +10.0.0.1 +10.0.0.2\nIPv4 [b:2] +10.0.0.3"},
		{name: "one slice per address type, not-ready addresses after ready ones",
			subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{port("", 80)},
				Addresses: addrs("fd00::1", "10.0.0.1"), NotReadyAddresses: addrs("10.0.0.2")}},
			want: "IPv4 [:80] +10.0.0.1 -10.0.0.2\nIPv6 [:80] +fd00::1"},
		{name: "not ready anywhere means not ready",
			subsets: []corev1.EndpointSubset{
				{Ports: []corev1.EndpointPort{port("", 80)}, Addresses: addrs("10.0.0.1")},
				{Ports: []corev1.EndpointPort{port("", 80)}, NotReadyAddresses: addrs("10.0.0.1")},
			},
			want: "IPv4 [:80] -10.0.0.1"},
		{name: "addresses without ports are mirrored without ports",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1")}},
			want:    "IPv4 [] +10.0.0.1"},
		{name: "irregular IPs are written canonically; others are skipped",
			subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{port("", 80)}, Addresses: addrs("010.000.000.001", "::ffff:10.0.0.2", "nope")}},
			want:    "IPv4 [:80] +10.0.0.1 +10.0.0.2", invalid: 1},
		{name: "at most the limit per subset, ready ones kept first",
			subsets: []corev1.EndpointSubset{
				{Ports: []corev1.EndpointPort{port("a", 1)}, Addresses: addrs("10.0.0.3", "10.0.0.1", "10.0.0.2"), NotReadyAddresses: addrs("10.0.0.4")},
				{Ports: []corev1.EndpointPort{port("b", 2)}, Addresses: addrs("10.0.0.9")},
			},
			limit: 2, want: "IPv4 [a:1] +10.0.0.1 +10.0.0.2\nIPv4 [b:2] +10.0.0.9", overCap: 2},
		{name: "no subsets, no slices", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := cmp.Or(tc.limit, 1000)
			m := mirrorOf(&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "ns"}, Subsets: tc.subsets}, limit)
			if got := render(m.slices); got != tc.want {
				t.Errorf("slices:\n%s\nwant:\n%s", got, tc.want)
			}
			if m.invalid != tc.invalid || m.overCap != tc.overCap {
				t.Errorf("invalid %d, over the cap %d; want %d, %d", m.invalid, m.overCap, tc.invalid, tc.overCap)
			}
		})
	}
}

func TestSliceMetadata(t *testing.T) {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns", UID: "ep-uid",
			Labels: map[string]string{"app": "db", discoveryv1.LabelManagedBy: "someone", discoveryv1.LabelServiceName: "other"},
			Annotations: map[string]string{"note": "kept", corev1.EndpointsLastChangeTriggerTime: "2020-01-01T00:00:00Z",
				corev1.LastAppliedConfigAnnotation: "{}"}},
		Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{port("", 5432)}, Addresses: addrs("10.0.0.1")}},
	}
	s := mirrorOf(ep, 1000).slices[0]
	wantLabels := map[string]string{"app": "db", discoveryv1.LabelManagedBy: ControllerName, discoveryv1.LabelServiceName: "db"}
	if !maps.Equal(s.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", s.Labels, wantLabels)
	}
	if want := map[string]string{"note": "kept"}; !maps.Equal(s.Annotations, want) {
		t.Errorf("annotations %v, want %v", s.Annotations, want)
	}
	if s.GenerateName != "db-" || len(s.OwnerReferences) != 1 {
		t.Fatalf("generateName %q, owners %v", s.GenerateName, s.OwnerReferences)
	}
	if o := s.OwnerReferences[0]; o.Kind != "Endpoints" || o.APIVersion != "v1" || o.Name != "db" || o.UID != "ep-uid" || !ptr.Deref(o.Controller, false) {
		t.Errorf("owner %+v, want the Endpoints as controller", o)
	}
	if ep.Labels[discoveryv1.LabelManagedBy] != "someone" || len(ep.Annotations) != 3 {
		t.Errorf("the Endpoints object was changed: %v %v", ep.Labels, ep.Annotations)
	}
}

func TestShouldMirror(t *testing.T) {
	for _, tc := range []struct {
		labels, annotations map[string]string
		want                bool
	}{
		{want: true},
		{labels: map[string]string{discoveryv1.LabelSkipMirror: "true"}, want: false},
		{labels: map[string]string{discoveryv1.LabelSkipMirror: "false"}, want: true},
		{annotations: map[string]string{leaderElectionAnnotation: "{}"}, want: false},
	} {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels, Annotations: tc.annotations}}
		if got := shouldMirror(ep); got != tc.want {
			t.Errorf("shouldMirror(labels %v, annotations %v) = %t, want %t", tc.labels, tc.annotations, got, tc.want)
		}
	}
}

// existing is what the API holds after the slice was written under name.
func existing(name string, s *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	s = s.DeepCopy()
	s.Name, s.GenerateName, s.UID, s.ResourceVersion = name, "", types.UID("uid-"+name), "7"
	return s
}

func TestPlan(t *testing.T) {
	ep := func(ports []corev1.EndpointPort, ips ...string) []*discoveryv1.EndpointSlice {
		e := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "ns", UID: "ep"},
			Subsets: []corev1.EndpointSubset{{Ports: ports, Addresses: addrs(ips...)}}}
		return mirrorOf(e, 1000).slices
	}
	http := []corev1.EndpointPort{port("http", 80)}
	one := ep(http, "10.0.0.1")[0]
	dual := ep(http, "10.0.0.1", "fd00::1")
	describe := func(ch changes) string {
		names := func(ss []*discoveryv1.EndpointSlice) string {
			var out []string
			for _, s := range ss {
				out = append(out, cmp.Or(s.Name, "new")+"="+render([]*discoveryv1.EndpointSlice{s}))
			}
			slices.Sort(out)
			return strings.Join(out, ", ")
		}
		return fmt.Sprintf("create [%s] update [%s] delete [%s]", names(ch.create), names(ch.update), names(ch.delete))
	}
	ownedByOld := existing("a", one)
	ownedByOld.OwnerReferences[0].UID = "an-older-endpoints"
	for _, tc := range []struct {
		name     string
		want     []*discoveryv1.EndpointSlice
		existing []*discoveryv1.EndpointSlice
		plan     string
	}{
		{"up to date", ep(http, "10.0.0.1"), []*discoveryv1.EndpointSlice{existing("a", one)},
			"create [] update [] delete []"},
		{"new", ep(http, "10.0.0.1"), nil,
			"create [new=IPv4 [http:80] +10.0.0.1] update [] delete []"},
		{"an address changes in place", ep(http, "10.0.0.2"), []*discoveryv1.EndpointSlice{existing("a", one)},
			"create [] update [a=IPv4 [http:80] +10.0.0.2] delete []"},
		{"new ports reuse the slice of the old ones", ep([]corev1.EndpointPort{port("http", 8080)}, "10.0.0.1"), []*discoveryv1.EndpointSlice{existing("a", one)},
			"create [] update [a=IPv4 [http:8080] +10.0.0.1] delete []"},
		{"a slice left from an older Endpoints of the name is rewritten", ep(http, "10.0.0.1"), []*discoveryv1.EndpointSlice{ownedByOld},
			"create [] update [a=IPv4 [http:80] +10.0.0.1] delete []"},
		{"a second slice of the same ports goes", ep(http, "10.0.0.1"), []*discoveryv1.EndpointSlice{existing("a", one), existing("b", one)},
			"create [] update [] delete [b=IPv4 [http:80] +10.0.0.1]"},
		{"an address type gone", ep(http, "10.0.0.1"), []*discoveryv1.EndpointSlice{existing("a", dual[1]), existing("b", one)},
			"create [] update [] delete [a=IPv6 [http:80] +fd00::1]"},
		{"an address type added is not written into the other type's slice", dual, []*discoveryv1.EndpointSlice{existing("b", one)},
			"create [new=IPv6 [http:80] +fd00::1] update [] delete []"},
		{"nothing left", nil, []*discoveryv1.EndpointSlice{existing("a", one)},
			"create [] update [] delete [a=IPv4 [http:80] +10.0.0.1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(plan(tc.want, tc.existing)); got != tc.plan {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.plan)
			}
		})
	}
}
