package proxy

import (
	"context"
	"crypto/tls"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestContainerFor(t *testing.T) {
	containers := func(names ...string) []corev1.Container {
		var cs []corev1.Container
		for _, n := range names {
			cs = append(cs, corev1.Container{Name: n})
		}
		return cs
	}
	for _, tc := range []struct {
		name      string
		pod       corev1.Pod
		requested string
		want, err string
	}{
		{name: "only container", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: containers("a")}}, want: "a"},
		{name: "named", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: containers("a", "b")}}, requested: "b", want: "b"},
		{name: "named init", pod: corev1.Pod{Spec: corev1.PodSpec{InitContainers: containers("i"), Containers: containers("a")}}, requested: "i", want: "i"},
		{name: "named ephemeral", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: containers("a"), EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}}}, requested: "debug", want: "debug"},
		{name: "unknown", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: containers("a")}}, requested: "x", err: "container x is not valid for pod p"},
		{name: "several", pod: corev1.Pod{Spec: corev1.PodSpec{InitContainers: containers("i"), Containers: containers("a", "b")}}, err: "a container name must be specified for pod p, choose one of: [i a b]"},
		{name: "annotation", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{DefaultContainerAnnotation: "b"}}, Spec: corev1.PodSpec{Containers: containers("a", "b")}}, want: "b"},
		{name: "annotation naming nothing", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{DefaultContainerAnnotation: "z"}}, Spec: corev1.PodSpec{Containers: containers("a", "b")}}, err: "a container name must be specified for pod p, choose one of: [a b]"},
		{name: "none", pod: corev1.Pod{}, err: "a container name must be specified for pod p"},
	} {
		tc.pod.Name = "p"
		got, err := containerFor(&tc.pod, tc.requested)
		switch {
		case tc.err != "" && (!apierrors.IsBadRequest(err) || err.Error() != tc.err):
			t.Errorf("%s: err = %v, want 400 %q", tc.name, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestAgentHost(t *testing.T) {
	node := func(name string, port int32, addrs ...corev1.NodeAddress) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		n.Status.Addresses = addrs
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
		return n
	}
	client := fake.NewClientset(
		node("internal", 10250, corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.1"}, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}),
		node("v6", 10250, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::1"}),
		node("external", 11000, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.2"}),
		node("unpublished", 0, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.3"}),
		node("addressless", 10250),
	)
	p, err := New(Config{Getter: ClientGetter(client), TLS: &tls.Config{Certificates: []tls.Certificate{{}}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"internal": "10.0.0.1:10250", "v6": "[fd00::1]:10250", "external": "203.0.113.2:11000"} {
		if got, err := p.agentHost(context.Background(), name); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	for name, check := range map[string]func(error) bool{"unpublished": apierrors.IsServiceUnavailable, "addressless": apierrors.IsServiceUnavailable, "missing": apierrors.IsNotFound} {
		if _, err := p.agentHost(context.Background(), name); !check(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New(Config{Getter: ClientGetter(client), TLS: &tls.Config{}}); err == nil {
		t.Error("a proxy without a client certificate was built")
	}
}
