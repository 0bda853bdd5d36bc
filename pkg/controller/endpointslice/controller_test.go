package endpointslice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/endpointslice"
	"github.com/skiffhq/skiff/test/harness"
)

func start(t *testing.T, opts endpointslice.Options) kubernetes.Interface {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	ctrl := endpointslice.New(c.Client, factory, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return c.Client
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// createPod creates a pod on node-a and, when ip is set, reports it running
// with that IP and the given readiness through /status.
func createPod(t *testing.T, cs kubernetes.Interface, ns, name string, labels map[string]string, ports []corev1.ContainerPort, ip string, ready bool) *corev1.Pod {
	t.Helper()
	pod, err := cs.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app", Image: "kubia", Ports: ports}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	if ip == "" {
		return pod
	}
	return setReady(t, cs, pod, ip, ready)
}

func setReady(t *testing.T, cs kubernetes.Interface, pod *corev1.Pod, ip string, ready bool) *corev1.Pod {
	t.Helper()
	pod, err := cs.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	pod, err = cs.CoreV1().Pods(pod.Namespace).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("updating status of pod %s: %v", pod.Name, err)
	}
	return pod
}

func tcpPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func serviceSlices(t *testing.T, cs kubernetes.Interface, ns, svc string) []discoveryv1.EndpointSlice {
	t.Helper()
	list, err := cs.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// summary renders slices as one line each: ports | endpoints (pod=address
// ready/serving/terminating@node), sorted, so tests compare what a user reads.
func summary(ss []discoveryv1.EndpointSlice) string {
	var lines []string
	for _, s := range ss {
		var ports, eps []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", ptr.Deref(p.Name, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.Protocol, "")))
		}
		for _, e := range s.Endpoints {
			name := "?"
			if e.TargetRef != nil {
				name = e.TargetRef.Name
			}
			eps = append(eps, fmt.Sprintf("%s=%s %t/%t/%t@%s", name, strings.Join(e.Addresses, ","),
				ptr.Deref(e.Conditions.Ready, false), ptr.Deref(e.Conditions.Serving, false), ptr.Deref(e.Conditions.Terminating, false),
				ptr.Deref(e.NodeName, "")))
		}
		slices.Sort(ports)
		slices.Sort(eps)
		lines = append(lines, fmt.Sprintf("[%s] %s", strings.Join(ports, " "), strings.Join(eps, " ")))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func waitSummary(t *testing.T, cs kubernetes.Interface, ns, svc, want string) []discoveryv1.EndpointSlice {
	t.Helper()
	var got []discoveryv1.EndpointSlice
	controllertest.Eventually(t, "slices of "+ns+"/"+svc, func() (bool, string) {
		got = serviceSlices(t, cs, ns, svc)
		s := summary(got)
		return s == want, "got:\n" + s + "\nwant:\n" + want
	})
	return got
}

func TestSlicesFollowPods(t *testing.T) {
	cs := start(t, endpointslice.Options{})
	ctx := context.Background()
	ns := "shop"
	createNamespace(t, cs, ns)
	web := map[string]string{"app": "web"}
	p1 := createPod(t, cs, ns, "web-1", web, []corev1.ContainerPort{tcpPort("http", 8080)}, "10.244.0.11", true)
	p2 := createPod(t, cs, ns, "web-2", web, []corev1.ContainerPort{tcpPort("http", 8080)}, "10.244.0.12", false)
	p3 := createPod(t, cs, ns, "web-3", web, []corev1.ContainerPort{tcpPort("other", 9000)}, "10.244.0.13", true)
	createPod(t, cs, ns, "web-4", web, []corev1.ContainerPort{tcpPort("http", 8080)}, "", false)

	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "frontend"}},
		Spec: corev1.ServiceSpec{
			Selector: web,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 9100, TargetPort: intstr.FromInt32(9100)},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	got := waitSummary(t, cs, ns, "web", strings.Join([]string{
		"[http:8080/TCP metrics:9100/TCP] web-1=10.244.0.11 true/true/false@node-a web-2=10.244.0.12 false/false/false@node-a",
		"[metrics:9100/TCP] web-3=10.244.0.13 true/true/false@node-a",
	}, "\n"))
	wantLabels := map[string]string{
		"tier":                       "frontend",
		discoveryv1.LabelServiceName: "web",
		discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
	}
	wantOwner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: svc.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	for _, s := range got {
		if s.GenerateName != "web-" || !strings.HasPrefix(s.Name, "web-") {
			t.Errorf("slice %s: generateName %q, want web-", s.Name, s.GenerateName)
		}
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Errorf("slice %s: addressType %s", s.Name, s.AddressType)
		}
		if !apiequality.Semantic.DeepEqual(s.Labels, wantLabels) {
			t.Errorf("slice %s: labels %v, want %v", s.Name, s.Labels, wantLabels)
		}
		if !apiequality.Semantic.DeepEqual(s.OwnerReferences, wantOwner) {
			t.Errorf("slice %s: ownerReferences %s, want %s", s.Name, dump(s.OwnerReferences), dump(wantOwner))
		}
		if _, err := time.Parse(time.RFC3339Nano, s.Annotations[corev1.EndpointsLastChangeTriggerTime]); err != nil {
			t.Errorf("slice %s: trigger time annotation %q: %v", s.Name, s.Annotations[corev1.EndpointsLastChangeTriggerTime], err)
		}
		for _, e := range s.Endpoints {
			if e.Zone != nil || e.TargetRef == nil || e.TargetRef.Kind != "Pod" || e.TargetRef.Namespace != ns || e.TargetRef.UID == "" {
				t.Errorf("slice %s: endpoint %s", s.Name, dump(e))
			}
		}
	}

	// web-1 terminates (bound to a node, it waits out its grace period): it
	// stays listed as serving but terminating, and not ready. web-2 turns ready.
	if err := cs.CoreV1().Pods(ns).Delete(ctx, p1.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, p2, "10.244.0.12", true)
	waitSummary(t, cs, ns, "web", strings.Join([]string{
		"[http:8080/TCP metrics:9100/TCP] web-1=10.244.0.11 false/true/true@node-a web-2=10.244.0.12 true/true/false@node-a",
		"[metrics:9100/TCP] web-3=10.244.0.13 true/true/false@node-a",
	}, "\n"))

	// Relabelling web-3 away empties (and removes) its slice.
	p3, err = cs.CoreV1().Pods(ns).Get(ctx, p3.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p3.Labels = map[string]string{"app": "debug"}
	if _, err := cs.CoreV1().Pods(ns).Update(ctx, p3, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSummary(t, cs, ns, "web",
		"[http:8080/TCP metrics:9100/TCP] web-1=10.244.0.11 false/true/true@node-a web-2=10.244.0.12 true/true/false@node-a")

	// A service label change reaches the slices.
	svc, err = cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Labels["tier"] = "edge"
	if _, err := cs.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "slice labels to follow the Service", func() (bool, string) {
		ss := serviceSlices(t, cs, ns, "web")
		return len(ss) == 1 && ss[0].Labels["tier"] == "edge", dump(ss)
	})

	// Deleting the Service removes its slices.
	if err := cs.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, "slices of a deleted Service to go", func() (bool, string) {
		ss := serviceSlices(t, cs, ns, "web")
		return len(ss) == 0, dump(ss)
	})
}

func TestSlicesPackAndPlaceholder(t *testing.T) {
	cs := start(t, endpointslice.Options{MaxEndpointsPerSlice: 2})
	ctx := context.Background()
	ns := "pack"
	createNamespace(t, cs, ns)
	app := map[string]string{"app": "api"}

	// No pods yet: one empty placeholder slice.
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	placeholder := waitSummary(t, cs, ns, "api", "[] ")
	if len(placeholder[0].Ports) != 0 || len(placeholder[0].Endpoints) != 0 {
		t.Fatalf("placeholder slice: %s", dump(placeholder[0]))
	}

	// Five pods at two per slice: three slices, and the placeholder's name is
	// reused rather than deleted and another created.
	for i := range 5 {
		createPod(t, cs, ns, fmt.Sprintf("api-%d", i), app, nil, fmt.Sprintf("10.244.3.%d", 10+i), true)
	}
	var got []discoveryv1.EndpointSlice
	controllertest.Eventually(t, "five endpoints in three slices", func() (bool, string) {
		got = serviceSlices(t, cs, ns, "api")
		n := 0
		for _, s := range got {
			if len(s.Endpoints) > 2 {
				return false, "over the limit:\n" + summary(got)
			}
			n += len(s.Endpoints)
		}
		return n == 5 && len(got) == 3, summary(got)
	})
	if !slices.ContainsFunc(got, func(s discoveryv1.EndpointSlice) bool { return s.Name == placeholder[0].Name }) {
		t.Errorf("placeholder %s was replaced instead of reused: %v", placeholder[0].Name, summary(got))
	}

	// A change the slices do not show (a matching pod without IP) writes
	// nothing: the first slice event after it is the real change.
	list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.DiscoveryV1().EndpointSlices(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	createPod(t, cs, ns, "api-no-ip", app, nil, "", false)
	p0, err := cs.CoreV1().Pods(ns).Get(ctx, "api-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady(t, cs, p0, "10.244.3.10", false)
	select {
	case ev := <-w.ResultChan():
		s, ok := ev.Object.(*discoveryv1.EndpointSlice)
		if !ok || ev.Type != watch.Modified {
			t.Fatalf("first slice event: %s %s", ev.Type, dump(ev.Object))
		}
		if !strings.Contains(summary([]discoveryv1.EndpointSlice{*s}), "api-0=10.244.3.10 false/false/false") {
			t.Fatalf("first slice write after a no-op change does not carry the real one: %s", summary([]discoveryv1.EndpointSlice{*s}))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no slice write after api-0 turned not ready")
	}
}

func TestSlicesRepairAndLeaveOthersAlone(t *testing.T) {
	cs := start(t, endpointslice.Options{})
	ctx := context.Background()
	ns := "repair"
	createNamespace(t, cs, ns)
	app := map[string]string{"app": "cache"}
	createPod(t, cs, ns, "cache-0", app, []corev1.ContainerPort{tcpPort("redis", 6379)}, "10.244.4.10", true)

	// Someone else's slice for the same Service name stays as it is.
	foreign, err := cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "cache-manual", Labels: map[string]string{
			discoveryv1.LabelServiceName: "cache", discoveryv1.LabelManagedBy: "someone-else"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "cache"},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Name: "redis", Port: 6379, TargetPort: intstr.FromString("redis")}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "[] ?=192.0.2.1 false/false/false@\n[redis:6379/TCP] cache-0=10.244.4.10 true/true/false@node-a"
	got := waitSummary(t, cs, ns, "cache", want)

	// A managed slice deleted by hand comes back.
	for _, s := range got {
		if s.Name == foreign.Name {
			continue
		}
		if err := cs.DiscoveryV1().EndpointSlices(ns).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitSummary(t, cs, ns, "cache", want)
	manual, err := cs.DiscoveryV1().EndpointSlices(ns).Get(ctx, foreign.Name, metav1.GetOptions{})
	if err != nil || manual.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("someone else's slice was touched: %v %s", err, dump(manual))
	}

	// The kubernetes Service has no selector: no slices of ours.
	for _, s := range serviceSlices(t, cs, "default", "kubernetes") {
		if s.Labels[discoveryv1.LabelManagedBy] == "endpointslice-controller.k8s.io" {
			t.Errorf("the kubernetes Service got a managed slice: %s", dump(s))
		}
	}
}
