package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestMaxSurgeAndUnavailableRoundAsUpstream(t *testing.T) {
	pct := intstr.FromString
	num := intstr.FromInt32
	for _, tc := range []struct {
		name                     string
		replicas                 int32
		strategy                 appsv1.DeploymentStrategyType
		surge, unavailable       *intstr.IntOrString
		wantSurge, wantUnavailab int32
	}{
		{"25% of 10: surge rounds up, unavailable down", 10, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(pct("25%")), ptr.To(pct("25%")), 3, 2},
		{"50% of 3", 3, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(pct("50%")), ptr.To(pct("50%")), 2, 1},
		{"25% of 1", 1, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(pct("25%")), ptr.To(pct("25%")), 1, 0},
		{"both round to 0: one may be unavailable", 1, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(num(0)), ptr.To(pct("25%")), 0, 1},
		{"integers", 5, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(num(2)), ptr.To(num(1)), 2, 1},
		{"unavailable capped at replicas", 2, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(num(0)), ptr.To(num(5)), 0, 2},
		{"no replicas: none unavailable", 0, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(num(1)), ptr.To(num(1)), 1, 0},
		{"unset fields are 0", 4, appsv1.RollingUpdateDeploymentStrategyType, nil, ptr.To(num(1)), 0, 1},
		{"Recreate", 10, appsv1.RecreateDeploymentStrategyType, nil, nil, 0, 0},
	} {
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(tc.replicas),
			Strategy: appsv1.DeploymentStrategy{Type: tc.strategy},
		}}
		if tc.strategy == appsv1.RollingUpdateDeploymentStrategyType {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: tc.surge, MaxUnavailable: tc.unavailable}
		}
		if got := maxSurge(d); got != tc.wantSurge {
			t.Errorf("%s: maxSurge = %d, want %d", tc.name, got, tc.wantSurge)
		}
		if got := maxUnavailable(d); got != tc.wantUnavailab {
			t.Errorf("%s: maxUnavailable = %d, want %d", tc.name, got, tc.wantUnavailab)
		}
	}
}
