package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/test/harness"
)

// TestEndpointSliceMirroring walks the conformance test "should mirror a
// custom Endpoints resource through create update and delete" and shows, with
// kubectl, that the Endpoints the endpoints controller writes for a Service
// with a selector, and the kubernetes Service's, get no mirror.
func TestEndpointSliceMirroring(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{HollowNodes: 1})
	ks := harness.Kubectls(t)
	k := ks[len(ks)-1]
	ctx := context.Background()
	const ns = "default"
	// slices is `kubectl get endpointslices` of a Service: one row a slice,
	// ADDRESSTYPE PORTS ENDPOINTS MANAGED-BY (NAME and AGE vary).
	slices := func(svc string) string {
		out, errOut, err := c.Run(k, "", "get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name="+svc,
			"-L", "endpointslice.kubernetes.io/managed-by", "--no-headers")
		if err != nil {
			return err.Error() + ": " + errOut
		}
		var lines []string
		for _, r := range rows(out) {
			if len(r) == 6 {
				lines = append(lines, strings.Join([]string{r[1], r[2], r[3], r[5]}, " "))
			}
		}
		return strings.Join(lines, "\n")
	}
	waitSlices := func(svc, want string) {
		t.Helper()
		eventually(t, "endpointslices of "+svc, 20*time.Second, func() (bool, string) {
			got := slices(svc)
			return got == want, "got:\n" + got + "\nwant:\n" + want
		})
	}

	// A Service with a selector and its pod: the endpoints controller writes
	// its Endpoints, the endpointslice controller its slice.
	web := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
	}}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "luksa/kubia",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var podIP string
	eventually(t, "the web pod's address in its Endpoints", 20*time.Second, func() (bool, string) {
		ep, err := c.Client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 {
			return false, "endpoints: " + ep.String() + " " + errString(err)
		}
		podIP = ep.Subsets[0].Addresses[0].IP
		return true, ""
	})
	waitSlices("web", "IPv4 8080 "+podIP+" endpointslice-controller.k8s.io")

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "example-custom-endpoints"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "example", Port: 80, Protocol: corev1.ProtocolTCP}},
	}}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name}, Subsets: []corev1.EndpointSubset{{
		Ports: []corev1.EndpointPort{{Port: 80}}, Addresses: []corev1.EndpointAddress{{IP: "10.1.2.3"}},
	}}}
	ep, err := c.Client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const mirrored = " endpointslicemirroring-controller.k8s.io"
	waitSlices(svc.Name, "IPv4 80 10.1.2.3"+mirrored)

	ep.Subsets[0].Addresses = []corev1.EndpointAddress{{IP: "10.2.3.4"}}
	if _, err := c.Client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlices(svc.Name, "IPv4 80 10.2.3.4"+mirrored)

	// The mirror has seen every Endpoints object created before the ones it
	// just mirrored.
	if got, want := slices("web"), "IPv4 8080 "+podIP+" endpointslice-controller.k8s.io"; got != want {
		t.Errorf("slices of web:\n%s\nwant:\n%s", got, want)
	}
	if got := slices("kubernetes"); strings.Count(got, "\n") != 0 || strings.Contains(got, mirrored) {
		t.Errorf("slices of kubernetes:\n%s\nwant only the API server's", got)
	}

	if err := c.Client.CoreV1().Endpoints(ns).Delete(ctx, ep.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlices(svc.Name, "")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
