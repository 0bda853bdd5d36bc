package endpointslice

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var testSvc = &corev1.Service{
	ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid"},
	Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10", IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
		Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
	},
}

func readyPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "ns", UID: types.UID(fmt.Sprintf("uid-%d", i))},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.0.%d", i),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// existingSlice is what the API would hold after we wrote a slice of these pods.
func existingSlice(name string, pods ...int) *discoveryv1.EndpointSlice {
	s := newSlice(testSvc, podPorts(testSvc, readyPod(0)), discoveryv1.AddressTypeIPv4)
	s.Name, s.UID = name, types.UID("uid-"+name)
	for _, i := range pods {
		ep, _ := podEndpoint(testSvc, readyPod(i), discoveryv1.AddressTypeIPv4)
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

func pods(ids ...int) []*corev1.Pod {
	var out []*corev1.Pod
	for _, i := range ids {
		out = append(out, readyPod(i))
	}
	return out
}

func describe(p plan) string {
	names := func(ss []*discoveryv1.EndpointSlice) []string {
		var out []string
		for _, s := range ss {
			var eps []string
			for _, e := range s.Endpoints {
				eps = append(eps, e.TargetRef.Name)
			}
			slices.Sort(eps)
			out = append(out, fmt.Sprintf("%s%v", s.Name, eps))
		}
		slices.Sort(out)
		return out
	}
	return fmt.Sprintf("create %v update %v delete %v", names(p.create), names(p.update), names(p.delete))
}

func TestPlanService(t *testing.T) {
	c := &Controller{opts: Options{MaxEndpointsPerSlice: 3}}
	other := existingSlice("stale", 1)
	other.OwnerReferences[0].UID = "an-older-service"
	for _, tc := range []struct {
		name     string
		pods     []*corev1.Pod
		existing []*discoveryv1.EndpointSlice
		want     string
	}{
		{"nothing to do", pods(1, 2), []*discoveryv1.EndpointSlice{existingSlice("a", 1, 2)},
			"create [] update [] delete []"},
		{"new service fills slices to the limit", pods(1, 2, 3, 4), nil,
			"create [[p1 p2 p3] [p4]] update [] delete []"},
		{"a removal touches one slice", pods(1, 3, 4), []*discoveryv1.EndpointSlice{existingSlice("a", 1, 2), existingSlice("b", 3, 4)},
			"create [] update [a[p1]] delete []"},
		{"an addition tops up the slice already being written", pods(1, 3, 4, 5), []*discoveryv1.EndpointSlice{existingSlice("a", 1, 2), existingSlice("b", 3, 4)},
			"create [] update [a[p1 p5]] delete []"},
		{"an addition goes to the unchanged slice it fits best", pods(1, 2, 3, 4, 5), []*discoveryv1.EndpointSlice{existingSlice("a", 1, 2, 3), existingSlice("b", 4)},
			"create [] update [b[p4 p5]] delete []"},
		{"an emptied slice is deleted", pods(1), []*discoveryv1.EndpointSlice{existingSlice("a", 1), existingSlice("b", 2)},
			"create [] update [] delete [b[p2]]"},
		{"no pods: a placeholder replaces the last slice", nil, []*discoveryv1.EndpointSlice{existingSlice("a", 1)},
			"create [[]] update [] delete [a[p1]]"},
		{"no pods and a placeholder: nothing to do", nil, []*discoveryv1.EndpointSlice{placeholderSlice()},
			"create [] update [] delete []"},
		{"a slice of an older Service of the same name goes", pods(1), []*discoveryv1.EndpointSlice{other},
			"create [[p1]] update [] delete [stale[p1]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(c.planService(testSvc, tc.pods, tc.existing)); got != tc.want {
				t.Errorf("plan = %s\nwant   %s", got, tc.want)
			}
		})
	}
}

func placeholderSlice() *discoveryv1.EndpointSlice {
	s := newSlice(testSvc, []discoveryv1.EndpointPort{}, discoveryv1.AddressTypeIPv4)
	s.Name = "ph"
	return s
}

// BenchmarkPlanService measures one sync's planning for a Service of 3,000
// pods whose 30 slices are up to date but for one pod.
func BenchmarkPlanService(b *testing.B) {
	c := &Controller{opts: Options{MaxEndpointsPerSlice: 100}}
	var all []*corev1.Pod
	for i := range 3000 {
		p := readyPod(i)
		p.Name, p.UID = fmt.Sprintf("p%d", i), types.UID(fmt.Sprintf("uid-%d", i))
		p.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", i%7, i/250, i%250)
		all = append(all, p)
	}
	first := c.planService(testSvc, all, nil)
	existing := first.create
	for i, s := range existing {
		s.Name = fmt.Sprintf("s%d", i)
	}
	all[42].Status.Conditions[0].Status = corev1.ConditionFalse
	b.ReportAllocs()
	for b.Loop() {
		p := c.planService(testSvc, all, existing)
		if len(p.update) != 1 || len(p.create)+len(p.delete) != 0 {
			b.Fatal(describe(p))
		}
	}
}
