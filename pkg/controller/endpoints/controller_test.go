package endpoints_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/endpoints"
	"github.com/skiffhq/skiff/test/harness"
)

// start runs a control plane without its loops, plus this controller alone.
func start(t *testing.T) kubernetes.Interface {
	t.Helper()
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	ctrl := endpoints.New(c.Client, factory, endpoints.Options{})
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
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// createPod creates a pod on node-a with the given container ports and, when
// ip is set, gives it that IP and a Ready condition through /status, as a
// node agent would.
func createPod(t *testing.T, cs kubernetes.Interface, ns, name string, labels map[string]string, ports []corev1.ContainerPort, ip string, ready bool) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:   "node-a",
			Containers: []corev1.Container{{Name: "app", Image: "kubia", Ports: ports}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	if ip == "" {
		return pod
	}
	return setPodStatus(t, cs, pod, ip, ready)
}

func setPodStatus(t *testing.T, cs kubernetes.Interface, pod *corev1.Pod, ip string, ready bool) *corev1.Pod {
	t.Helper()
	pod, err := cs.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting pod %s: %v", pod.Name, err)
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

// waitSubsets waits until the Endpoints have exactly these subsets.
func waitSubsets(t *testing.T, cs kubernetes.Interface, ns, name string, want []corev1.EndpointSubset) *corev1.Endpoints {
	t.Helper()
	var got *corev1.Endpoints
	controllertest.Eventually(t, fmt.Sprintf("endpoints %s/%s to match", ns, name), func() (bool, string) {
		ep, err := cs.CoreV1().Endpoints(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = ep
		return apiequality.Semantic.DeepEqual(ep.Subsets, want), "got " + dump(ep.Subsets) + "\nwant " + dump(want)
	})
	return got
}

func addr(pod *corev1.Pod) corev1.EndpointAddress {
	return corev1.EndpointAddress{
		IP:        pod.Status.PodIP,
		NodeName:  ptr.To(pod.Spec.NodeName),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
}

func epPort(name string, port int32) corev1.EndpointPort {
	return corev1.EndpointPort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

func TestEndpointsFollowPods(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	ns := "shop"
	createNamespace(t, cs, ns)
	web := map[string]string{"app": "web"}

	p1 := createPod(t, cs, ns, "web-1", web, []corev1.ContainerPort{tcpPort("http", 8080)}, "10.244.0.11", true)
	p2 := createPod(t, cs, ns, "web-2", web, []corev1.ContainerPort{tcpPort("http", 8080)}, "10.244.0.12", false)
	// No port named http: it serves only the numeric metrics port.
	p3 := createPod(t, cs, ns, "web-3", web, []corev1.ContainerPort{tcpPort("other", 9000)}, "10.244.0.13", true)
	// No IP yet: not listed at all.
	createPod(t, cs, ns, "web-4", web, []corev1.ContainerPort{tcpPort("http", 8080)}, "", false)
	// Another app's pod.
	createPod(t, cs, ns, "db-1", map[string]string{"app": "db"}, []corev1.ContainerPort{tcpPort("http", 8080)}, "10.244.0.20", true)

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
		t.Fatalf("creating service: %v", err)
	}

	both := []corev1.EndpointPort{epPort("http", 8080), epPort("metrics", 9100)}
	metricsOnly := []corev1.EndpointPort{epPort("metrics", 9100)}
	ep := waitSubsets(t, cs, ns, "web", []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr(p1)}, NotReadyAddresses: []corev1.EndpointAddress{addr(p2)}, Ports: both},
		{Addresses: []corev1.EndpointAddress{addr(p3)}, Ports: metricsOnly},
	})
	wantLabels := map[string]string{"tier": "frontend", endpoints.LabelManagedBy: endpoints.ControllerName}
	if !apiequality.Semantic.DeepEqual(ep.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", ep.Labels, wantLabels)
	}
	// The first sync of a Service names its creation as the trigger.
	trigger, err := time.Parse(time.RFC3339Nano, ep.Annotations[corev1.EndpointsLastChangeTriggerTime])
	if err != nil || !trigger.Equal(svc.CreationTimestamp.Time) {
		t.Errorf("%s = %q (%v), want the Service's creation %s", corev1.EndpointsLastChangeTriggerTime,
			ep.Annotations[corev1.EndpointsLastChangeTriggerTime], err, svc.CreationTimestamp.UTC().Format(time.RFC3339))
	}

	// web-2 becomes ready, web-1 stops being ready.
	p2 = setPodStatus(t, cs, p2, "10.244.0.12", true)
	p1 = setPodStatus(t, cs, p1, "10.244.0.11", false)
	waitSubsets(t, cs, ns, "web", []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr(p2)}, NotReadyAddresses: []corev1.EndpointAddress{addr(p1)}, Ports: both},
		{Addresses: []corev1.EndpointAddress{addr(p3)}, Ports: metricsOnly},
	})

	// Relabelling web-3 takes it out of the Service.
	p3, err = cs.CoreV1().Pods(ns).Get(ctx, "web-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p3.Labels = map[string]string{"app": "debug"}
	if _, err := cs.CoreV1().Pods(ns).Update(ctx, p3, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("relabelling web-3: %v", err)
	}
	waitSubsets(t, cs, ns, "web", []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr(p2)}, NotReadyAddresses: []corev1.EndpointAddress{addr(p1)}, Ports: both},
	})

	// Deleting web-1 marks it terminating (it is bound to a node): it leaves
	// the Endpoints at once.
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting web-1: %v", err)
	}
	waitSubsets(t, cs, ns, "web", []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr(p2)}, Ports: both},
	})

	// Deleting the last pod for good leaves an Endpoints without subsets.
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "web-2", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatalf("deleting web-2: %v", err)
	}
	waitSubsets(t, cs, ns, "web", nil)

	// Deleting the Service deletes its Endpoints.
	if err := cs.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting service: %v", err)
	}
	controllertest.Eventually(t, "endpoints web to be deleted", func() (bool, string) {
		_, err := cs.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err)
	})
}

func TestEndpointsServiceVariants(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	ns := "variants"
	createNamespace(t, cs, ns)
	app := map[string]string{"app": "db"}
	ready := createPod(t, cs, ns, "db-0", app, []corev1.ContainerPort{tcpPort("pg", 5432)}, "10.244.1.10", true)
	notReady := createPod(t, cs, ns, "db-1", app, []corev1.ContainerPort{tcpPort("pg", 5432)}, "10.244.1.11", false)

	// A user's Endpoints for a selectorless Service: the controller must not
	// touch them.
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "external"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 5432}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	userEP, err := cs.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "external"},
		Subsets:    []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.10"}}, Ports: []corev1.EndpointPort{{Port: 5432}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Headless, publishing not-ready pods too.
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, Selector: app, PublishNotReadyAddresses: true,
			Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, TargetPort: intstr.FromString("pg")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := waitSubsets(t, cs, ns, "db", []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr(ready), addr(notReady)}, Ports: []corev1.EndpointPort{epPort("pg", 5432)}},
	})
	if v, ok := ep.Labels[corev1.IsHeadlessService]; !ok || v != "" {
		t.Errorf("headless Service's Endpoints labels = %v, want %s=\"\"", ep.Labels, corev1.IsHeadlessService)
	}

	// The db Endpoints were written after the controller saw the user's ones;
	// they are untouched.
	got, err := cs.CoreV1().Endpoints(ns).Get(ctx, "external", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != userEP.ResourceVersion || got.Labels[endpoints.LabelManagedBy] != "" {
		t.Errorf("user's Endpoints were rewritten: %s", dump(got))
	}

	// An Endpoints deleted by hand comes back.
	if err := cs.CoreV1().Endpoints(ns).Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSubsets(t, cs, ns, "db", []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{addr(ready), addr(notReady)}, Ports: []corev1.EndpointPort{epPort("pg", 5432)}},
	})
}

// TestEndpointsWriteOnlyOnChange watches the Endpoints: a pod change that
// alters nothing they show must not produce a write.
func TestEndpointsWriteOnlyOnChange(t *testing.T) {
	cs := start(t)
	ctx := context.Background()
	ns := "quiet"
	createNamespace(t, cs, ns)
	app := map[string]string{"app": "api"}
	p1 := createPod(t, cs, ns, "api-1", app, []corev1.ContainerPort{tcpPort("http", 8080)}, "10.244.2.10", true)
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := []corev1.EndpointPort{{Port: 8080, Protocol: corev1.ProtocolTCP}}
	ep := waitSubsets(t, cs, ns, "api", []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr(p1)}, Ports: port}})

	w, err := cs.CoreV1().Endpoints(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=api", ResourceVersion: ep.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// Changes the Endpoints do not show: a matching pod without an IP, a
	// label that keeps the pod selected, a Service annotation.
	createPod(t, cs, ns, "api-2", app, []corev1.ContainerPort{tcpPort("http", 8080)}, "", false)
	p1.Labels["version"] = "v2"
	if _, err := cs.CoreV1().Pods(ns).Update(ctx, p1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Annotations = map[string]string{"note": "no endpoint change"}
	if _, err := cs.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Then one they do: api-2 gets an IP and is ready.
	p2, err := cs.CoreV1().Pods(ns).Get(ctx, "api-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p2 = setPodStatus(t, cs, p2, "10.244.2.11", true)

	want := []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr(p1), addr(p2)}, Ports: port}}
	select {
	case ev := <-w.ResultChan():
		got, ok := ev.Object.(*corev1.Endpoints)
		if ev.Type != watch.Modified || !ok {
			t.Fatalf("first event after the no-op changes: %s %s", ev.Type, dump(ev.Object))
		}
		if !apiequality.Semantic.DeepEqual(got.Subsets, want) {
			t.Fatalf("first write after the no-op changes has subsets %s, want %s (a write that changed nothing?)", dump(got.Subsets), dump(want))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no write after api-2 became ready")
	}
}
