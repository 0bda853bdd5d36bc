package endpoints

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(name, ip string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

func TestBuildSubsets(t *testing.T) {
	http := corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}
	alt := corev1.ContainerPort{Name: "http", ContainerPort: 8081, Protocol: corev1.ProtocolTCP}
	udp := corev1.ContainerPort{Name: "http", ContainerPort: 9999, Protocol: corev1.ProtocolUDP}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
		}},
	}
	terminating := pod("d", "10.0.0.4", true, http)
	terminating.DeletionTimestamp = &metav1.Time{}
	failed := pod("e", "10.0.0.5", false, http)
	failed.Status.Phase = corev1.PodFailed

	got := buildSubsets(svc, []*corev1.Pod{
		pod("b", "10.0.0.10", true, http),
		pod("a", "10.0.0.9", true, http), // sorts before b by address
		pod("c", "10.0.0.3", false, alt), // same name, other number: its own subset
		pod("f", "10.0.0.6", true, udp),  // the name exists only for UDP: not served
		pod("g", "", true, http),         // no IP
		terminating, failed,
	})
	summary := fmt.Sprint(subsetSummary(got))
	want := "[[http:8080 ready:10.0.0.9,10.0.0.10 notready:] [http:8081 ready: notready:10.0.0.3]]"
	if summary != want {
		t.Errorf("subsets = %s\nwant       %s", summary, want)
	}

	svc.Spec.PublishNotReadyAddresses = true
	got = buildSubsets(svc, []*corev1.Pod{terminating, pod("c", "10.0.0.3", false, http)})
	if summary, want := fmt.Sprint(subsetSummary(got)), "[[http:8080 ready:10.0.0.3,10.0.0.4 notready:]]"; summary != want {
		t.Errorf("publishNotReadyAddresses: subsets = %s, want %s", summary, want)
	}
}

func subsetSummary(ss []corev1.EndpointSubset) [][]string {
	var out [][]string
	for _, s := range ss {
		var row []string
		for _, p := range s.Ports {
			row = append(row, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		list := func(label string, as []corev1.EndpointAddress) string {
			out := label + ":"
			for i, a := range as {
				if i > 0 {
					out += ","
				}
				out += a.IP
			}
			return out
		}
		row = append(row, list("ready", s.Addresses), list("notready", s.NotReadyAddresses))
		out = append(out, row)
	}
	return out
}

func addresses(n int, prefix string) []corev1.EndpointAddress {
	out := make([]corev1.EndpointAddress, n)
	for i := range out {
		out[i] = corev1.EndpointAddress{IP: fmt.Sprintf("%s.%d.%d", prefix, i/250, i%250)}
	}
	return out
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name           string
		in             []corev1.EndpointSubset
		truncated      bool
		ready, notRdy  []int
		totalAddresses int
	}{{
		name: "under capacity",
		in:   []corev1.EndpointSubset{{Addresses: addresses(600, "10.1"), NotReadyAddresses: addresses(400, "10.2")}},
		// exactly 1000: kept
		ready: []int{600}, notRdy: []int{400}, totalAddresses: 1000,
	}, {
		name:      "not-ready ones go first",
		in:        []corev1.EndpointSubset{{Addresses: addresses(700, "10.1"), NotReadyAddresses: addresses(200, "10.2")}, {Addresses: addresses(100, "10.3"), NotReadyAddresses: addresses(200, "10.4")}},
		truncated: true, ready: []int{700, 100}, notRdy: []int{100, 100}, totalAddresses: 1000,
	}, {
		name:      "ready ones shared in proportion",
		in:        []corev1.EndpointSubset{{Addresses: addresses(1500, "10.1"), NotReadyAddresses: addresses(5, "10.2")}, {Addresses: addresses(500, "10.3")}},
		truncated: true, ready: []int{750, 250}, notRdy: []int{0, 0}, totalAddresses: 1000,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, truncated := truncate(tc.in)
			if truncated != tc.truncated {
				t.Fatalf("truncated = %v, want %v", truncated, tc.truncated)
			}
			total := 0
			for i, ss := range out {
				if len(ss.Addresses) != tc.ready[i] || len(ss.NotReadyAddresses) != tc.notRdy[i] {
					t.Errorf("subset %d: %d ready, %d not ready; want %d, %d", i, len(ss.Addresses), len(ss.NotReadyAddresses), tc.ready[i], tc.notRdy[i])
				}
				total += len(ss.Addresses) + len(ss.NotReadyAddresses)
			}
			if total != tc.totalAddresses {
				t.Errorf("%d addresses kept, want %d", total, tc.totalAddresses)
			}
		})
	}
}

// BenchmarkBuildSubsets measures one sync's work for a Service of 3,000 pods.
func BenchmarkBuildSubsets(b *testing.B) {
	http := corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
		}},
	}
	var pods []*corev1.Pod
	for i := range 3000 {
		pods = append(pods, pod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.%d.%d.%d", i%7, i/250, i%250), i%10 != 0, http))
	}
	b.ReportAllocs()
	for b.Loop() {
		subsets, _ := truncate(buildSubsets(svc, pods))
		if len(subsets) != 1 {
			b.Fatal(len(subsets))
		}
	}
}
