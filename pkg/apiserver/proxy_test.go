package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestSplitSchemeNamePort(t *testing.T) {
	for _, c := range []struct {
		id                 string
		scheme, name, port string
		ok                 bool
	}{
		{"web", "http", "web", "", true},
		{"web:8080", "http", "web", "8080", true},
		{"https:web:443", "https", "web", "443", true},
		{"http:web:", "http", "web", "", true},
		{"ftp:web:21", "", "", "", false},
		{":8080", "", "", "", false},
		{"a:b:c:d", "", "", "", false},
	} {
		scheme, name, port, ok := splitSchemeNamePort(c.id)
		if scheme != c.scheme || name != c.name || port != c.port || ok != c.ok {
			t.Errorf("%q: %q %q %q %v, want %q %q %q %v", c.id, scheme, name, port, ok, c.scheme, c.name, c.port, c.ok)
		}
	}
}

func TestPodLocation(t *testing.T) {
	pod := &corev1.Pod{
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "sidecar"},
			{Name: "web", Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 9090}}},
		}},
		Status: corev1.PodStatus{PodIP: "10.42.0.7"},
	}
	for port, want := range map[string]string{"": "http://10.42.0.7:8080", "9090": "http://10.42.0.7:9090"} {
		loc, err := podLocation(pod, "http", port)
		if err != nil || loc.String() != want {
			t.Errorf("port %q: %v, %v; want %s", port, loc, err, want)
		}
	}
	// Only a pod's own unicast address: not loopback, link-local or none.
	for _, ip := range []string{"127.0.0.1", "169.254.169.254", "", "::1"} {
		pod.Status.PodIP = ip
		if _, err := podLocation(pod, "http", "80"); !apierrors.IsBadRequest(err) || err.Error() != "address not allowed" {
			t.Errorf("pod IP %q: %v, want 400 address not allowed", ip, err)
		}
	}
}
