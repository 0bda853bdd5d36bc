package servicelb_test

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/controller/servicelb"
	"github.com/skiffhq/skiff/test/harness"
)

// runController starts the load balancer on its own informer factory and
// returns a function that stops it (also called at cleanup).
func runController(t *testing.T, cs kubernetes.Interface, opts servicelb.Options) (stop func()) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(cs, 0)
	ctrl := servicelb.New(cs, factory, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- ctrl.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	}
	t.Cleanup(stop)
	return stop
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func node(name, internalIP string, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: internalIP}, {Type: corev1.NodeHostName, Address: name}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		},
	}
}

func createNode(t *testing.T, cs kubernetes.Interface, n *corev1.Node) {
	t.Helper()
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating node %s: %v", n.Name, err)
	}
}

// updateNodeStatus applies change to the node's status, as its agent would.
func updateNodeStatus(t *testing.T, cs kubernetes.Interface, name string, change func(*corev1.NodeStatus)) {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(&n.Status)
	if _, err := cs.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating node %s: %v", name, err)
	}
}

func setReady(ready bool) func(*corev1.NodeStatus) {
	return func(s *corev1.NodeStatus) {
		for i := range s.Conditions {
			if s.Conditions[i].Type == corev1.NodeReady {
				s.Conditions[i].Status = corev1.ConditionFalse
				if ready {
					s.Conditions[i].Status = corev1.ConditionTrue
				}
			}
		}
	}
}

func lbService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 8080}},
		},
	}
}

// leaveLoadBalancer clears the fields only a LoadBalancer (or, for a
// ClusterIP Service, an externally reachable one) may carry. Upstream's API
// server drops them itself on a type change; Skiff's refuses the change
// (reported as an API server bug), so the test does what a user would have to.
func leaveLoadBalancer(svc *corev1.Service) {
	svc.Spec.AllocateLoadBalancerNodePorts = nil
	if svc.Spec.Type == corev1.ServiceTypeClusterIP {
		svc.Spec.ExternalTrafficPolicy = ""
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
}

func createService(t *testing.T, cs kubernetes.Interface, ns string, svc *corev1.Service) {
	t.Helper()
	if _, err := cs.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating service %s: %v", svc.Name, err)
	}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func ingressIPs(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	return out
}

// waitIngress waits until the Service's ingress lists exactly these addresses
// (in this order), each with ipMode VIP.
func waitIngress(t *testing.T, cs kubernetes.Interface, ns, name string, want ...string) *corev1.Service {
	t.Helper()
	var got *corev1.Service
	controllertest.Eventually(t, "ingress of "+ns+"/"+name+" to be "+strings.Join(want, ","), func() (bool, string) {
		svc, err := cs.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = svc
		if !slices.Equal(ingressIPs(svc), want) {
			return false, dump(svc.Status)
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IPMode == nil || *in.IPMode != corev1.LoadBalancerIPModeVIP {
				return false, "ipMode not VIP: " + dump(svc.Status)
			}
		}
		return true, ""
	})
	return got
}

// waitEvent waits for an event with this reason (and, unless message is
// empty, this message) about the Service and returns its message.
func waitEvent(t *testing.T, cs kubernetes.Interface, ns, name, reason, message string) string {
	t.Helper()
	var msg string
	controllertest.Eventually(t, reason+" event for "+ns+"/"+name, func() (bool, string) {
		list, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range list.Items {
			if ev.InvolvedObject.Kind == "Service" && ev.InvolvedObject.Name == name && ev.Reason == reason &&
				ev.Source.Component == "service-controller" && (message == "" || ev.Message == message) {
				msg = ev.Message
				return true, ""
			}
			seen = append(seen, ev.InvolvedObject.Name+" "+ev.Reason+" "+ev.Message)
		}
		return false, strings.Join(seen, "\n")
	})
	return msg
}

// externalIP is the EXTERNAL-IP column kubectl prints for the Service.
func externalIP(t *testing.T, c *harness.Cluster, k harness.Kubectl, ns, name string) string {
	t.Helper()
	out := c.MustRun(t, k, "", "get", "svc", name, "-n", ns)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl %s get svc: %q", k.Version, out)
	}
	header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
	i := slices.Index(header, "EXTERNAL-IP")
	if i < 0 || len(row) != len(header) {
		t.Fatalf("kubectl %s get svc: %q", k.Version, out)
	}
	return row[i]
}

func TestNodeAddressesAsIngress(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	cs := c.Client
	runController(t, cs, servicelb.Options{})
	ns := "lb"
	createNamespace(t, cs, ns)
	createNode(t, cs, node("node-1", "10.0.0.2", true))
	createNode(t, cs, node("node-2", "10.0.0.1", true))
	createNode(t, cs, node("node-3", "10.0.0.3", false))

	// Another implementation's Service: left pending.
	owned := lbService("owned")
	owned.Spec.LoadBalancerClass = ptr.To("example.com/other-lb")
	createService(t, cs, ns, owned)
	createService(t, cs, ns, lbService("web"))

	waitIngress(t, cs, ns, "web", "10.0.0.1", "10.0.0.2")
	for _, k := range harness.Kubectls(t) {
		if got := externalIP(t, c, k, ns, "web"); got != "10.0.0.1,10.0.0.2" {
			t.Errorf("kubectl %s: EXTERNAL-IP %q, want 10.0.0.1,10.0.0.2", k.Version, got)
		}
		if got := externalIP(t, c, k, ns, "owned"); got != "<pending>" {
			t.Errorf("kubectl %s: EXTERNAL-IP of the other class's Service %q, want <pending>", k.Version, got)
		}
	}
	waitEvent(t, cs, ns, "web", "EnsuringLoadBalancer", "Ensuring load balancer")
	waitEvent(t, cs, ns, "web", "EnsuredLoadBalancer", "Ensured load balancer")

	// externalTrafficPolicy Local: only the nodes running a ready endpoint.
	local := lbService("local")
	local.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	createService(t, cs, ns, local)
	waitEvent(t, cs, ns, "local", "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")
	if _, err := cs.DiscoveryV1().EndpointSlices(ns).Create(context.Background(), &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "local-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: "local"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.1.5"}, NodeName: ptr.To("node-1"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "local-1"}},
			{Addresses: []string{"10.244.2.5"}, NodeName: ptr.To("node-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "local-2"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, cs, ns, "local", "10.0.0.2")

	// Nodes come and go.
	updateNodeStatus(t, cs, "node-2", setReady(false))
	waitIngress(t, cs, ns, "web", "10.0.0.2")
	waitEvent(t, cs, ns, "web", "UpdatedLoadBalancer", "Updated LoadBalancer with new IPs: [10.0.0.1 10.0.0.2] -> [10.0.0.2]")
	updateNodeStatus(t, cs, "node-3", setReady(true))
	waitIngress(t, cs, ns, "web", "10.0.0.2", "10.0.0.3")
	if err := cs.CoreV1().Nodes().Delete(context.Background(), "node-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, cs, ns, "web", "10.0.0.3")

	// As k3s does, once a node has an ExternalIP only ExternalIPs are used.
	updateNodeStatus(t, cs, "node-3", func(s *corev1.NodeStatus) {
		s.Addresses = append(s.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.7"})
	})
	waitIngress(t, cs, ns, "web", "203.0.113.7")

	// No longer a load balancer: the ingress is withdrawn.
	svc, err := cs.CoreV1().Services(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	leaveLoadBalancer(svc)
	if _, err := cs.CoreV1().Services(ns).Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("changing the type: %v", err)
	}
	waitIngress(t, cs, ns, "web")
	waitEvent(t, cs, ns, "web", "DeletingLoadBalancer", "Deleting load balancer")
	waitEvent(t, cs, ns, "web", "DeletedLoadBalancer", "Deleted load balancer")
	waitEvent(t, cs, ns, "web", "Type", "LoadBalancer -> ClusterIP")
	k := harness.Kubectls(t)[0]
	if got := externalIP(t, c, k, ns, "web"); got != "<none>" {
		t.Errorf("EXTERNAL-IP of a ClusterIP Service %q, want <none>", got)
	}
	owned, err = cs.CoreV1().Services(ns).Get(context.Background(), "owned", metav1.GetOptions{})
	if err != nil || len(owned.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("the other class's Service got an ingress: %v %s", err, dump(owned.Status))
	}
}

func TestPoolAddresses(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	cs := c.Client
	_, pool, _ := net.ParseCIDR("10.99.0.0/30") // two usable addresses: .1 and .2
	stop := runController(t, cs, servicelb.Options{Pool: pool})
	ns := "pool"
	createNamespace(t, cs, ns)

	createService(t, cs, ns, lbService("a"))
	waitIngress(t, cs, ns, "a", "10.99.0.1")
	createService(t, cs, ns, lbService("b"))
	waitIngress(t, cs, ns, "b", "10.99.0.2")

	// The pool is exhausted: c waits, and says why.
	createService(t, cs, ns, lbService("c"))
	waitEvent(t, cs, ns, "c", "SyncLoadBalancerFailed",
		"Error syncing load balancer: failed to ensure load balancer: no free address in pool 10.99.0.0/30")
	for _, k := range harness.Kubectls(t)[:1] {
		if got := externalIP(t, c, k, ns, "c"); got != "<pending>" {
			t.Errorf("EXTERNAL-IP of c with the pool exhausted: %q", got)
		}
	}

	// Deleting a frees its address for c.
	if err := cs.CoreV1().Services(ns).Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, cs, ns, "c", "10.99.0.1")

	// A restarted controller knows what is taken: d waits rather than get
	// b's or c's address.
	stop()
	runController(t, cs, servicelb.Options{Pool: pool})
	createService(t, cs, ns, lbService("d"))
	waitEvent(t, cs, ns, "d", "SyncLoadBalancerFailed", "")
	waitIngress(t, cs, ns, "b", "10.99.0.2")
	waitIngress(t, cs, ns, "c", "10.99.0.1")

	// b stops being a load balancer: its address goes to d.
	b, err := cs.CoreV1().Services(ns).Get(context.Background(), "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Spec.Type = corev1.ServiceTypeNodePort
	leaveLoadBalancer(b)
	if _, err := cs.CoreV1().Services(ns).Update(context.Background(), b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, cs, ns, "b")
	waitIngress(t, cs, ns, "d", "10.99.0.2")
}
