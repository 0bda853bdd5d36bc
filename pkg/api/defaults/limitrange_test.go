package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestLimitRange(t *testing.T) {
	q := resource.MustParse
	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{
			Type:    corev1.LimitTypeContainer,
			Min:     corev1.ResourceList{"cpu": q("50m"), "memory": q("100Mi")},
			Max:     corev1.ResourceList{"cpu": q("1"), "ephemeral-storage": q("1Gi")},
			Default: corev1.ResourceList{"cpu": q("500m")},
		},
		{Type: corev1.LimitTypePod, Max: corev1.ResourceList{"cpu": q("2")}},
	}}}
	LimitRange(lr)
	container := lr.Spec.Limits[0]
	// The default limit comes from max where unset; the default request from
	// the default limit, else from min.
	wantDefault := corev1.ResourceList{"cpu": q("500m"), "ephemeral-storage": q("1Gi")}
	wantRequest := corev1.ResourceList{"cpu": q("500m"), "ephemeral-storage": q("1Gi"), "memory": q("100Mi")}
	if !equality.Semantic.DeepEqual(container.Default, wantDefault) {
		t.Errorf("default %v, want %v", container.Default, wantDefault)
	}
	if !equality.Semantic.DeepEqual(container.DefaultRequest, wantRequest) {
		t.Errorf("defaultRequest %v, want %v", container.DefaultRequest, wantRequest)
	}
	if pod := lr.Spec.Limits[1]; pod.Default != nil || pod.DefaultRequest != nil {
		t.Errorf("a Pod item got defaults: %v %v", pod.Default, pod.DefaultRequest)
	}
}
