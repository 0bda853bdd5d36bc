package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

func rl(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

func TestValidateLimitRange(t *testing.T) {
	lr := func(items ...corev1.LimitRangeItem) *corev1.LimitRange {
		l := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: "default"}, Spec: corev1.LimitRangeSpec{Limits: items}}
		defaults.LimitRange(l)
		return l
	}
	container := corev1.LimitTypeContainer
	tests := []struct {
		name string
		lr   *corev1.LimitRange
		want []e
	}{
		{"conformance's range", lr(corev1.LimitRangeItem{Type: container,
			Min:            rl("cpu", "50m", "memory", "100Mi", "ephemeral-storage", "100Gi"),
			Max:            rl("cpu", "500m", "memory", "500Mi", "ephemeral-storage", "500Gi"),
			Default:        rl("cpu", "500m", "memory", "500Mi", "ephemeral-storage", "500Gi"),
			DefaultRequest: rl("cpu", "100m", "memory", "200Mi", "ephemeral-storage", "200Gi")}), nil},
		{"pod, container and claim items", lr(
			corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: rl("cpu", "2"), MaxLimitRequestRatio: rl("cpu", "4")},
			corev1.LimitRangeItem{Type: container, Min: rl("memory", "1Mi")},
			corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Max: rl("storage", "10Gi")}), nil},
		{"no name", &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: "default"}}, []e{required("metadata.name")}},
		{"unknown type", lr(corev1.LimitRangeItem{Type: "Node"}),
			[]e{invalid("spec.limits[0].type", "must be a standard limit type or fully qualified")}},
		{"qualified type", lr(corev1.LimitRangeItem{Type: "example.com/thing", Max: rl("example.com/widgets", "3")}), nil},
		{"type twice", lr(corev1.LimitRangeItem{Type: container}, corev1.LimitRangeItem{Type: container}),
			[]e{duplicate("spec.limits[1].type")}},
		{"not a container resource", lr(corev1.LimitRangeItem{Type: container, Max: rl("pods", "3")}),
			[]e{invalid("spec.limits[0].max[pods]", "must be a standard resource for containers"),
				invalid("spec.limits[0].default[pods]", "must be a standard resource for containers"),
				invalid("spec.limits[0].defaultRequest[pods]", "must be a standard resource for containers")}},
		{"claim item names an unknown resource", lr(corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Max: rl("disks", "3")}),
			[]e{invalid("spec.limits[0].max[disks]", "must be a standard resource type or fully qualified"),
				required("spec.limits[0].limits")}},
		{"pod item with defaults", lr(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Default: rl("cpu", "1"), DefaultRequest: rl("cpu", "1")}),
			[]e{forbidden("spec.limits[0].default", "may not be specified when `type` is 'Pod'"),
				forbidden("spec.limits[0].defaultRequest", "may not be specified when `type` is 'Pod'")}},
		{"min above max", lr(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Min: rl("cpu", "2"), Max: rl("cpu", "1")}),
			[]e{invalid("spec.limits[0].min[cpu]", "min value 2 is greater than max value 1")}},
		{"default outside the bounds", lr(corev1.LimitRangeItem{Type: container, Min: rl("cpu", "100m"), Max: rl("cpu", "1"),
			Default: rl("cpu", "2"), DefaultRequest: rl("cpu", "50m")}),
			[]e{invalid("spec.limits[0].defaultRequest[cpu]", "min value 100m is greater than default request value 50m"),
				invalid("spec.limits[0].default[cpu]", "default value 2 is greater than max value 1")}},
		{"default request above limit", lr(corev1.LimitRangeItem{Type: container, Default: rl("memory", "1Gi"), DefaultRequest: rl("memory", "2Gi")}),
			[]e{invalid("spec.limits[0].defaultRequest[memory]", "default request value 2Gi is greater than default limit value 1Gi")}},
		{"ratio below one", lr(corev1.LimitRangeItem{Type: container, MaxLimitRequestRatio: rl("cpu", "500m")}),
			[]e{invalid("spec.limits[0].maxLimitRequestRatio[cpu]", "ratio 500m is less than 1")}},
		{"ratio above max/min", lr(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Min: rl("cpu", "1"), Max: rl("cpu", "2"), MaxLimitRequestRatio: rl("cpu", "3")}),
			[]e{invalid("spec.limits[0].maxLimitRequestRatio[cpu]", "ratio 3 is greater than max/min = 2.000000")}},
		{"device default request differs", lr(corev1.LimitRangeItem{Type: container, Default: rl("example.com/gpu", "2"), DefaultRequest: rl("example.com/gpu", "1")}),
			[]e{invalid("spec.limits[0].defaultRequest[example.com/gpu]", "default value 2 must equal to defaultRequest value 1 in example.com/gpu")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrs(t, ValidateLimitRange(tt.lr), tt.want...)
		})
	}
}
