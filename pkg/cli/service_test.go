package cli

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestServiceCommand runs `skiff service` against a real API server, naming
// the cluster by --kubeconfig and by KUBECONFIG.
func TestServiceCommand(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	const ns = "svc-cmd"
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node, err := c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "192.0.2.10"}}
	if _, err := c.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	create := func(name string, typ corev1.ServiceType) *corev1.Service {
		t.Helper()
		s, err := c.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": "kubia"},
				Ports: []corev1.ServicePort{{Port: 8080, Protocol: corev1.ProtocolTCP}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	lb := create("kubia-http", corev1.ServiceTypeLoadBalancer)
	np := create("kubia-np", corev1.ServiceTypeNodePort)
	create("kubia-internal", corev1.ServiceTypeClusterIP)
	nodePort := strconv.Itoa(int(np.Spec.Ports[0].NodePort))

	run := func(args ...string) (string, error) {
		root := newRoot(append([]string{"service"}, args...))
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"service"}, args...))
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	mustPrint := func(want string, args ...string) {
		t.Helper()
		out, err := run(args...)
		if err != nil || out != want {
			t.Fatalf("skiff service %s = %q, %v; want %q", strings.Join(args, " "), out, err, want)
		}
	}
	mustFail := func(want string, args ...string) {
		t.Helper()
		if out, err := run(args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("skiff service %s = %q, %v; want an error saying %q", strings.Join(args, " "), out, err, want)
		}
	}

	// Before the load balancer loop has given it an address, its NodePort.
	mustPrint("http://192.0.2.10:"+strconv.Itoa(int(lb.Spec.Ports[0].NodePort))+"\n", "kubia-http", "-n", ns, "--kubeconfig", c.Kubeconfig)
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.200"}}
	if _, err := c.Client.CoreV1().Services(ns).UpdateStatus(ctx, lb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustPrint("http://192.0.2.200:8080\n", "kubia-http", "-n", ns, "--url", "--kubeconfig", c.Kubeconfig)
	mustPrint("http://192.0.2.10:"+nodePort+"\n", "kubia-np", "--namespace", ns, "--kubeconfig", c.Kubeconfig)
	mustFail("no URL outside the cluster", "kubia-internal", "-n", ns, "--kubeconfig", c.Kubeconfig)
	mustFail("not found", "kubia-http", "--kubeconfig", c.Kubeconfig) // default namespace

	t.Setenv("KUBECONFIG", "/nonexistent/other.yaml:"+c.Kubeconfig)
	mustPrint("http://192.0.2.200:8080\n", "kubia-http", "-n", ns, "--url")
	t.Setenv("KUBECONFIG", "")
	mustFail("/nonexistent/kubeconfig.yaml", "kubia-http", "-n", ns, "--kubeconfig", "/nonexistent/kubeconfig.yaml")
}
