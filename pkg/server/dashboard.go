package server

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/dashboard"
)

// managedBy marks the objects Skiff makes for its packaged components, so
// that turning one off removes what Skiff made and nothing a user made.
const managedBy = "app.kubernetes.io/managed-by"

// ensureDashboardService keeps the Service the dashboard is reached through.
// With the dashboard on, it exists with upstream's cluster-service label, so
// that `kubectl cluster-info` lists it and the API server's service proxy
// reaches it (the API server serves it in-process: it has no endpoints).
// With the dashboard off, the Service Skiff made is removed.
func ensureDashboardService(ctx context.Context, api *apiserver.Server, reg *apiserver.Registry, enabled bool) error {
	res := reg.Lookup("v1", "services")
	exists := api.Exists(res, dashboard.Namespace, dashboard.Name)
	if enabled {
		if exists {
			return nil
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: dashboard.Name, Labels: map[string]string{
				"kubernetes.io/cluster-service": "true",
				"k8s-app":                       dashboard.Name,
				managedBy:                       "skiff",
			}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
				Name: dashboard.PortName, Port: 443, Protocol: corev1.ProtocolTCP,
			}}},
		}
		if _, err := api.Create(ctx, res, dashboard.Namespace, svc); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("the dashboard's Service: %w", err)
		}
		return nil
	}
	if !exists {
		return nil
	}
	for _, o := range api.List("v1", "services") {
		svc, ok := o.(*corev1.Service)
		if !ok || svc.Namespace != dashboard.Namespace || svc.Name != dashboard.Name || svc.Labels[managedBy] != "skiff" {
			continue
		}
		if err := api.Delete(ctx, res, svc.Namespace, svc.Name, &metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the disabled dashboard's Service: %w", err)
		}
	}
	return nil
}
