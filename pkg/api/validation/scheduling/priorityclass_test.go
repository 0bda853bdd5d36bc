package scheduling

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

func priorityClass(name string, value int32, mutate func(*schedulingv1.PriorityClass)) *schedulingv1.PriorityClass {
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"}, Value: value,
		PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)}
	if mutate != nil {
		mutate(pc)
	}
	return pc
}

func TestValidatePriorityClass(t *testing.T) {
	tests := []struct {
		name string
		pc   *schedulingv1.PriorityClass
		want []validationtest.Err
	}{
		{"valid", priorityClass("high", 1000, nil), nil},
		{"highest a user may define", priorityClass("top", HighestUserDefinablePriority, nil), nil},
		{"system classes", priorityClass("system-node-critical", 2000001000, nil), nil},
		{"above what users may define", priorityClass("top", HighestUserDefinablePriority+1, nil),
			[]validationtest.Err{validationtest.Forbidden("value", "maximum allowed value of a user defined priority is 1000000000")}},
		{"unknown system name", priorityClass("system-mine", 5, nil),
			[]validationtest.Err{validationtest.Forbidden("metadata.name", "reserved for system use only. error: system-mine is not a known system priority class")}},
		{"system class with another value", priorityClass("system-cluster-critical", 5, nil),
			[]validationtest.Err{validationtest.Forbidden("metadata.name", "value of system-cluster-critical PriorityClass must be 2000000000")}},
		{"system class as default", priorityClass("system-cluster-critical", 2000000000, func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }),
			[]validationtest.Err{validationtest.Forbidden("metadata.name", "globalDefault of system-cluster-critical PriorityClass must be false")}},
		{"unknown policy", priorityClass("high", 1, func(pc *schedulingv1.PriorityClass) {
			pc.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Sometimes"))
		}),
			[]validationtest.Err{validationtest.NotSupported("preemptionPolicy", "")}},
		{"bad name", priorityClass("High", 1, nil), []validationtest.Err{validationtest.Invalid("metadata.name", "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			validationtest.Expect(t, ValidatePriorityClass(tt.pc), tt.want...)
		})
	}
}

func TestValidatePriorityClassUpdate(t *testing.T) {
	old := priorityClass("high", 1000, nil)
	tests := []struct {
		name string
		pc   *schedulingv1.PriorityClass
		want []validationtest.Err
	}{
		{"description and default may change", priorityClass("high", 1000, func(pc *schedulingv1.PriorityClass) {
			pc.Description, pc.GlobalDefault = "updated description", true
		}), nil},
		{"value", priorityClass("high", 10000, nil), []validationtest.Err{validationtest.Forbidden("value", "may not be changed in an update.")}},
		{"policy", priorityClass("high", 1000, func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptNever) }),
			[]validationtest.Err{validationtest.Invalid("preemptionPolicy", "field is immutable")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			validationtest.Expect(t, ValidatePriorityClassUpdate(tt.pc, old), tt.want...)
		})
	}
}
