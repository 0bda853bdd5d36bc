package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNamespace(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "forged", "env": "prod"}}}
	Namespace(ns)
	mustEqual(t, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "team-a", "env": "prod"}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}, ns)

	// An update must not bring back a finalizer the namespace controller removed.
	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	Namespace(terminating)
	if len(terminating.Spec.Finalizers) != 0 || terminating.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("Namespace changed finalizers or phase: %+v", terminating)
	}
}

func TestNewNamespace(t *testing.T) {
	for _, tc := range []struct {
		in, want []corev1.FinalizerName
	}{
		{nil, []corev1.FinalizerName{"kubernetes"}},
		{[]corev1.FinalizerName{"example.com/x"}, []corev1.FinalizerName{"example.com/x", "kubernetes"}},
		{[]corev1.FinalizerName{"kubernetes"}, []corev1.FinalizerName{"kubernetes"}},
	} {
		ns := &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: "team-a"},
			Spec:       corev1.NamespaceSpec{Finalizers: tc.in},
			Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
		}
		NewNamespace(ns)
		mustEqual(t, &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "team-a"}},
			Spec:       corev1.NamespaceSpec{Finalizers: tc.want},
			Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}, ns)
	}
}

func TestNode(t *testing.T) {
	n := &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110"),
	}}}
	Node(n)
	mustEqual(t, n.Status.Capacity, n.Status.Allocatable)
	if n.Spec.Taints != nil {
		t.Errorf("Node added taints: %v", n.Spec.Taints)
	}

	reported := &corev1.Node{Status: corev1.NodeStatus{
		Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3500m")},
	}}
	Node(reported)
	mustEqual(t, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3500m")}, reported.Status.Allocatable)
}

func TestNewNode(t *testing.T) {
	notReady := corev1.Taint{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name     string
		in, want []corev1.Taint
	}{
		{"none", nil, []corev1.Taint{notReady}},
		{"other taint kept", []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}}, []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}, notReady}},
		{"already there", []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Value: "x", Effect: corev1.TaintEffectNoSchedule}}, []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Value: "x", Effect: corev1.TaintEffectNoSchedule}}},
		{"NoExecute is another taint", []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoExecute}}, []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoExecute}, notReady}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &corev1.Node{Spec: corev1.NodeSpec{Taints: tc.in}}
			NewNode(n)
			mustEqual(t, tc.want, n.Spec.Taints)
		})
	}
}

func TestSecret(t *testing.T) {
	s := &corev1.Secret{
		Data:       map[string][]byte{"user": []byte("admin"), "pass": []byte("old")},
		StringData: map[string]string{"pass": "new", "host": "db"},
	}
	Secret(s)
	mustEqual(t, &corev1.Secret{
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"user": []byte("admin"), "pass": []byte("new"), "host": []byte("db")},
	}, s)

	tls := &corev1.Secret{Type: corev1.SecretTypeTLS, StringData: map[string]string{"tls.crt": "c"}}
	Secret(tls)
	mustEqual(t, &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c")}}, tls)
}

func TestEndpoints(t *testing.T) {
	e := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}},
		Ports:     []corev1.EndpointPort{{Port: 80}, {Port: 53, Protocol: corev1.ProtocolUDP}},
	}}}
	Endpoints(e)
	mustEqual(t, []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}}, e.Subsets[0].Ports)
}
