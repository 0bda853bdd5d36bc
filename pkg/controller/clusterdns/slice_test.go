package clusterdns

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func node(name, dns string, ready corev1.ConditionStatus) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if dns != "-" {
		n.Annotations = map[string]string{NodeAnnotation: dns}
	}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: ready},
		}
	}
	return n
}

// endpointsOf renders endpoints one per line: node address ready/serving/terminating.
func endpointsOf(s *discoveryv1.EndpointSlice) string {
	var lines []string
	for _, e := range s.Endpoints {
		lines = append(lines, fmt.Sprintf("%s %s %v/%v/%v zone=%s", ptr.Deref(e.NodeName, "?"), strings.Join(e.Addresses, ","),
			ptr.Deref(e.Conditions.Ready, false), ptr.Deref(e.Conditions.Serving, false), ptr.Deref(e.Conditions.Terminating, true),
			ptr.Deref(e.Zone, "")))
	}
	return strings.Join(lines, "\n")
}

// TestWant: one endpoint per node announcing an IPv4 DNS server, by node
// name, ready and serving as the node's Ready condition says; nodes without
// the annotation, or with one that is no IPv4 address, are left out.
func TestWant(t *testing.T) {
	zoned := node("b-zoned", "10.42.2.1", corev1.ConditionTrue)
	zoned.Labels = map[string]string{corev1.LabelTopologyZone: "z1"}
	for _, tc := range []struct {
		name    string
		nodes   []*corev1.Node
		want    string
		invalid []string
	}{
		{name: "no nodes"},
		{name: "hollow nodes never announce one", nodes: []*corev1.Node{node("hollow-1", "-", corev1.ConditionTrue)}},
		{
			name: "sorted by node name, readiness from the Ready condition",
			nodes: []*corev1.Node{
				node("c-notready", "10.42.3.1", corev1.ConditionFalse),
				zoned,
				node("a-ready", "10.42.1.1", corev1.ConditionTrue),
				node("d-unknown", "10.42.4.1", corev1.ConditionUnknown),
				node("e-new", "10.42.5.1", ""),
				node("f-plain", "-", corev1.ConditionTrue),
			},
			want: "a-ready 10.42.1.1 true/true/false zone=\n" +
				"b-zoned 10.42.2.1 true/true/false zone=z1\n" +
				"c-notready 10.42.3.1 false/false/false zone=\n" +
				"d-unknown 10.42.4.1 false/false/false zone=\n" +
				"e-new 10.42.5.1 false/false/false zone=",
		},
		{
			name: "invalid addresses left out",
			nodes: []*corev1.Node{
				node("v6", "fd00::1", corev1.ConditionTrue),
				node("garbage", "dns.example", corev1.ConditionTrue),
				node("empty", "", corev1.ConditionTrue),
				node("ok", "10.42.1.1", corev1.ConditionTrue),
			},
			want:    "ok 10.42.1.1 true/true/false zone=",
			invalid: []string{"empty", "garbage", "v6"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := want(tc.nodes, MaxEndpoints)
			if got := endpointsOf(d.slice); got != tc.want {
				t.Errorf("endpoints:\n%s\nwant:\n%s", got, tc.want)
			}
			if fmt.Sprint(d.invalid) != fmt.Sprint(tc.invalid) {
				t.Errorf("invalid %v, want %v", d.invalid, tc.invalid)
			}
			s := d.slice
			if s.Name != "kube-dns-nodes" || s.Namespace != "kube-system" || s.AddressType != discoveryv1.AddressTypeIPv4 ||
				s.Labels["kubernetes.io/service-name"] != "kube-dns" || s.Labels["endpointslice.kubernetes.io/managed-by"] != "cluster-dns.skiff.io" {
				t.Errorf("slice %s/%s %s labels %v", s.Namespace, s.Name, s.AddressType, s.Labels)
			}
			var ports []string
			for _, p := range s.Ports {
				ports = append(ports, fmt.Sprintf("%s:%d/%s", *p.Name, *p.Port, *p.Protocol))
			}
			if got := strings.Join(ports, " "); got != "dns:53/UDP dns-tcp:53/TCP" {
				t.Errorf("ports %s", got)
			}
		})
	}
}

// TestWantCapped: past 1000 announcing nodes (the most one EndpointSlice
// holds), the first 1000 by name are listed.
func TestWantCapped(t *testing.T) {
	var nodes []*corev1.Node
	for i := 1001; i >= 0; i-- {
		nodes = append(nodes, node(fmt.Sprintf("n-%04d", i), fmt.Sprintf("10.42.%d.%d", i/250, i%250+1), corev1.ConditionTrue))
	}
	d := want(nodes, MaxEndpoints)
	if n := len(d.slice.Endpoints); n != 1000 || d.annotated != 1002 {
		t.Fatalf("%d endpoints of %d announcing nodes, want 1000 of 1002", n, d.annotated)
	}
	if first, last := *d.slice.Endpoints[0].NodeName, *d.slice.Endpoints[999].NodeName; first != "n-0000" || last != "n-0999" {
		t.Errorf("endpoints from %s to %s, want n-0000 to n-0999", first, last)
	}
}
