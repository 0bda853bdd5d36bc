package ipaddress

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func service(ns, name string, ips ...string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if len(ips) > 0 {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = ips[0], ips
	}
	return s
}

func managed(ip, ns, name string) *networkingv1.IPAddress {
	return For(ip, service(ns, name))
}

func foreign(ip string, ref *networkingv1.ParentReference, labels map[string]string) *networkingv1.IPAddress {
	return &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: ip, Labels: labels}, Spec: networkingv1.IPAddressSpec{ParentRef: ref}}
}

// TestFor: the IPAddress of a ClusterIP is as upstream's allocator writes it.
func TestFor(t *testing.T) {
	for _, tc := range []struct{ ip, family string }{{"10.43.0.10", "IPv4"}, {"fd00:43::a", "IPv6"}} {
		got := For(tc.ip, service("kube-system", "kube-dns"))
		ref := got.Spec.ParentRef
		if s := fmt.Sprintf("%s %v %q/%s/%s/%s", got.Name, got.Labels, ref.Group, ref.Resource, ref.Namespace, ref.Name); s !=
			tc.ip+" map[ipaddress.kubernetes.io/ip-family:"+tc.family+" ipaddress.kubernetes.io/managed-by:ipallocator.k8s.io] \"\"/services/kube-system/kube-dns" {
			t.Errorf("For(%s): %s", tc.ip, s)
		}
	}
}

// TestClusterIPs: the addresses a Service holds, in canonical form, never a
// headless Service's "None".
func TestClusterIPs(t *testing.T) {
	dual := service("default", "dual", "10.43.0.5", "fd00::5")
	legacy := &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.6"}}
	for _, tc := range []struct {
		svc  *corev1.Service
		want string
	}{
		{service("default", "headless", "None"), "[]"},
		{service("default", "external"), "[]"},
		{dual, "[10.43.0.5 fd00::5]"},
		{legacy, "[10.43.0.6]"},
		{service("default", "upper", "FD00::7"), "[fd00::7]"},
	} {
		if got := fmt.Sprint(clusterIPs(tc.svc)); got != tc.want {
			t.Errorf("%s/%s %v: %s, want %s", tc.svc.Namespace, tc.svc.Name, tc.svc.Spec.ClusterIPs, got, tc.want)
		}
	}
}

// TestPlan: what a sync does about one address, in upstream's repair loop's
// cases, but for another manager's IPAddress, which is only ever logged.
func TestPlan(t *testing.T) {
	web := service("default", "web", "10.43.0.7")
	other := service("default", "other", "10.43.0.7")
	gateway := &networkingv1.ParentReference{Group: "gateway.networking.k8s.io", Resource: "gateways", Namespace: "default", Name: "web"}
	noFamily := managed("10.43.0.7", "default", "web")
	delete(noFamily.Labels, networkingv1.LabelIPAddressFamily)
	wrongFamily := managed("10.43.0.7", "default", "web")
	wrongFamily.Labels[networkingv1.LabelIPAddressFamily] = "IPv6"
	going := managed("10.43.0.7", "default", "gone")
	going.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	for _, tc := range []struct {
		name    string
		cur     *networkingv1.IPAddress
		holders []*corev1.Service
		want    action
	}{
		{"a Service's address without one", nil, []*corev1.Service{web}, create},
		{"no IPAddress, no Service", nil, nil, keep},
		{"its Service's", managed("10.43.0.7", "default", "web"), []*corev1.Service{web}, keep},
		{"the second of two holders'", managed("10.43.0.7", "default", "web"), []*corev1.Service{other, web}, keep},
		{"its Service is gone", managed("10.43.0.7", "default", "gone"), nil, release},
		{"its Service no longer holds it, another does", managed("10.43.0.7", "default", "gone"), []*corev1.Service{web}, release},
		{"a Service of that name in another namespace", managed("10.43.0.7", "team", "web"), []*corev1.Service{web}, release},
		{"ours, pointing at a gateway", foreign("10.43.0.7", gateway, map[string]string{networkingv1.LabelManagedBy: ManagedBy}), []*corev1.Service{web}, release},
		{"ours without its family label", noFamily, []*corev1.Service{web}, relabel},
		{"ours with the wrong family label", wrongFamily, []*corev1.Service{web}, relabel},
		{"being deleted", going, []*corev1.Service{web}, keep},
		{"a gateway's on a Service's address", foreign("10.43.0.7", gateway, nil), []*corev1.Service{web}, clash},
		{"another manager's naming another Service", foreign("10.43.0.7", managed("", "default", "other").Spec.ParentRef,
			map[string]string{networkingv1.LabelManagedBy: "someone-else"}), []*corev1.Service{web}, clash},
		{"another manager's naming the Service", foreign("10.43.0.7", managed("", "default", "web").Spec.ParentRef, nil), []*corev1.Service{web}, keep},
		{"a gateway's on a free address", foreign("10.43.0.7", gateway, nil), nil, keep},
		{"another manager's naming a Service that is gone", foreign("10.43.0.7", managed("", "default", "gone").Spec.ParentRef, nil), nil, keep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plan(tc.cur, tc.holders); got != tc.want {
				t.Errorf("plan: %s, want %s", got, tc.want)
			}
		})
	}
}
