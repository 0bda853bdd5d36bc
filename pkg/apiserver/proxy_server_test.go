package apiserver_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestProxyRefusesWhatItMustNotReach: services/proxy goes only to an endpoint
// that is the address of the pod it names, so a hand-made Endpoints object
// cannot send the API server elsewhere; a pod without an address of its own,
// a port the Service lacks and a name that does not parse get upstream's
// statuses. Nothing here is dialled: proxying to a running pod is in test/e2e,
// inside a network namespace.
func TestProxyRefusesWhatItMustNotReach(t *testing.T) {
	e := newEvictionEnv(t)
	p := e.pod("p", running(true))
	p.Status.PodIP = "10.42.0.5"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.5"}}
	if _, err := e.client.CoreV1().Pods(evictNS).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CoreV1().Services(evictNS).Create(e.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.CoreV1().Endpoints(evictNS).Create(e.ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{
				{IP: "192.0.2.10"}, // names no pod
				{IP: "192.0.2.11", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: evictNS, Name: "p"}}, // not p's IP
			},
			Ports: []corev1.EndpointPort{{Port: 8080}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path    string
		code    int32
		message string
	}{
		{"/api/v1/namespaces/default/services/web:80/proxy/", 503, `no endpoints available for service "web"`},
		{"/api/v1/namespaces/default/services/web/proxy/x", 503, `no endpoints available for service "web"`},
		{"/api/v1/namespaces/default/services/web:81/proxy/", 503, `no service port 81 found for service "web"`},
		{"/api/v1/namespaces/default/services/ftp:web:80/proxy/", 400, `invalid request "ftp:web:80"`},
		{"/api/v1/namespaces/default/services/nothere/proxy/", 404, `services "nothere" not found`},
	} {
		err := e.client.CoreV1().RESTClient().Get().AbsPath(c.path).Do(e.ctx).Error()
		status, ok := err.(apierrors.APIStatus)
		if !ok || status.Status().Code != c.code || status.Status().Message != c.message {
			t.Errorf("%s: %v, want %d %q", c.path, err, c.code, c.message)
		}
	}
	// A pod whose address is gone is not proxied to.
	p, _ = e.client.CoreV1().Pods(evictNS).Get(e.ctx, "p", metav1.GetOptions{})
	p.Status.PodIP, p.Status.PodIPs = "", nil
	if _, err := e.client.CoreV1().Pods(evictNS).UpdateStatus(e.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = e.client.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces/default/pods/p/proxy/").Do(e.ctx).Error()
	if !apierrors.IsBadRequest(err) || err.Error() != "address not allowed" {
		t.Errorf("pods/proxy of a pod without an address: %v, want 400 address not allowed", err)
	}
}
