package node

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/validation/validationtest"
)

var (
	required   = validationtest.Required
	invalid    = validationtest.Invalid
	duplicate  = validationtest.Duplicate
	forbidden  = validationtest.Forbidden
	expectErrs = validationtest.Expect
)

func runtimeClass(mutate func(*nodev1.RuntimeClass)) *nodev1.RuntimeClass {
	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc"}
	if mutate != nil {
		mutate(rc)
	}
	return rc
}

func TestValidateRuntimeClass(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*nodev1.RuntimeClass)
		want   []validationtest.Err
	}{
		{"valid", nil, nil},
		{"full", func(rc *nodev1.RuntimeClass) {
			rc.Overhead = &nodev1.Overhead{PodFixed: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("120Mi")}}
			rc.Scheduling = &nodev1.Scheduling{
				NodeSelector: map[string]string{"sandbox.example.com/runsc": "true"},
				Tolerations: []corev1.Toleration{
					{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: "runsc", Effect: corev1.TaintEffectNoSchedule},
					{Key: "sandbox", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
			}
		}, nil},
		{"no handler", func(rc *nodev1.RuntimeClass) { rc.Handler = "" }, []validationtest.Err{required("handler")}},
		{"handler with a dot", func(rc *nodev1.RuntimeClass) { rc.Handler = "run.sc" },
			[]validationtest.Err{invalid("handler", "must not contain dots")}},
		{"handler in capitals", func(rc *nodev1.RuntimeClass) { rc.Handler = "RunSC" },
			[]validationtest.Err{invalid("handler", "a lowercase RFC 1123 label")}},
		{"handler too long", func(rc *nodev1.RuntimeClass) { rc.Handler = strings.Repeat("a", 64) },
			[]validationtest.Err{invalid("handler", "must be no more than 63 characters")}},
		{"name not a subdomain", func(rc *nodev1.RuntimeClass) { rc.Name = "Gvisor" },
			[]validationtest.Err{invalid("metadata.name", "a lowercase RFC 1123 subdomain")}},
		{"namespaced", func(rc *nodev1.RuntimeClass) { rc.Namespace = "default" },
			[]validationtest.Err{forbidden("metadata.namespace", "not allowed on this type")}},
		{"negative overhead", func(rc *nodev1.RuntimeClass) {
			rc.Overhead = &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}}
		}, []validationtest.Err{invalid("overhead.limits[cpu]", "must be greater than or equal to 0")}},
		{"overhead of no container resource", func(rc *nodev1.RuntimeClass) {
			rc.Overhead = &nodev1.Overhead{PodFixed: corev1.ResourceList{"pods": resource.MustParse("1")}}
		}, []validationtest.Err{invalid("overhead.limits[pods]", "must be a standard resource for containers")}},
		{"bad node selector", func(rc *nodev1.RuntimeClass) {
			rc.Scheduling = &nodev1.Scheduling{NodeSelector: map[string]string{"-bad": "x", "good": "not valid"}}
		}, []validationtest.Err{invalid("scheduling.nodeSelector", "name part must consist of"),
			invalid("scheduling.nodeSelector", "a valid label must be")}},
		{"bad and duplicate tolerations", func(rc *nodev1.RuntimeClass) {
			rc.Scheduling = &nodev1.Scheduling{Tolerations: []corev1.Toleration{
				{Key: "a", Operator: corev1.TolerationOpEqual, Value: "1", Effect: corev1.TaintEffectNoSchedule},
				{Key: "a", Operator: corev1.TolerationOpEqual, Value: "1", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: nil},
				{Operator: corev1.TolerationOpEqual, Value: "x"},
				{Key: "b", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: new(int64)},
			}}
		}, []validationtest.Err{duplicate("scheduling.tolerations[1]"),
			invalid("scheduling.tolerations[2].operator", "operator must be Exists when `key` is empty"),
			invalid("scheduling.tolerations[3].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectErrs(t, ValidateRuntimeClass(runtimeClass(tt.mutate)), tt.want...)
		})
	}
}

func TestValidateRuntimeClassUpdate(t *testing.T) {
	old := runtimeClass(nil)
	old.ObjectMeta = validationtest.Stored(old.ObjectMeta)

	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"tier": "sandbox"}
	labelled.Overhead = &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}
	expectErrs(t, ValidateRuntimeClassUpdate(labelled, old))

	rehandled := old.DeepCopy()
	rehandled.Handler = "kata"
	expectErrs(t, ValidateRuntimeClassUpdate(rehandled, old), invalid("handler", "field is immutable"))

	// An update is checked as a create is, too.
	broken := old.DeepCopy()
	broken.Overhead = &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1Mi")}}
	expectErrs(t, ValidateRuntimeClassUpdate(broken, old), invalid("overhead.limits[memory]", "must be greater than or equal to 0"))
}
