package integration

import (
	"context"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/harness"
)

// TestExternalNameChangesType: an ExternalName Service turned into a
// ClusterIP or NodePort one gets a ClusterIP (and node ports), as upstream's;
// turned back, it lets them go.
func TestExternalNameChangesType(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	svcs := c.Client.CoreV1().Services("default")
	for _, to := range []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort} {
		name := "ext-" + map[corev1.ServiceType]string{corev1.ServiceTypeClusterIP: "cip", corev1.ServiceTypeNodePort: "np"}[to]
		svc, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP != "" {
			t.Fatalf("an ExternalName Service got ClusterIP %q", svc.Spec.ClusterIP)
		}
		svc.Spec.Type, svc.Spec.ExternalName = to, ""
		svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}
		svc, err = svcs.Update(ctx, svc, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("ExternalName to %s: %v", to, err)
		}
		if _, err := netip.ParseAddr(svc.Spec.ClusterIP); err != nil || len(svc.Spec.ClusterIPs) != 1 {
			t.Errorf("ExternalName to %s: clusterIP %q, clusterIPs %v, want one allocated", to, svc.Spec.ClusterIP, svc.Spec.ClusterIPs)
		}
		if to == corev1.ServiceTypeNodePort && svc.Spec.Ports[0].NodePort == 0 {
			t.Errorf("ExternalName to NodePort: no node port")
		}
		svc.Spec.Type, svc.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs, svc.Spec.Ports = "", nil, nil
		if svc, err = svcs.Update(ctx, svc, metav1.UpdateOptions{}); err != nil || svc.Spec.ClusterIP != "" {
			t.Errorf("back to ExternalName: %v, clusterIP %q", err, svc.Spec.ClusterIP)
		}
	}
}
