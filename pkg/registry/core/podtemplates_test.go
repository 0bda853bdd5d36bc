package core

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/registry/kind"
)

// TestPodTemplateGeneration: as upstream's strategy, a change to the template
// moves metadata.generation, and nothing else does.
func TestPodTemplateGeneration(t *testing.T) {
	r := podTemplates(kind.Options{})
	stored := &corev1.PodTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
		},
	}
	r.Default(stored)
	if errs := r.Validate(stored); len(errs) > 0 {
		t.Fatalf("a defaulted template is invalid: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		change func(*corev1.PodTemplate)
		moves  bool
	}{
		{"labels of the object", func(pt *corev1.PodTemplate) { pt.Labels = map[string]string{"team": "a"} }, false},
		{"a default left out", func(pt *corev1.PodTemplate) { pt.Template.Spec.DNSPolicy = "" }, false},
		{"restart policy", func(pt *corev1.PodTemplate) { pt.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, true},
		{"labels of the pods", func(pt *corev1.PodTemplate) { pt.Template.Labels["tier"] = "front" }, true},
		{"image", func(pt *corev1.PodTemplate) { pt.Template.Spec.Containers[0].Image = "nginx:1.28" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			update := stored.DeepCopy()
			tc.change(update)
			r.Default(update)
			if got := r.SpecChanged(update, stored); got != tc.moves {
				t.Errorf("generation moves: %v, want %v", got, tc.moves)
			}
		})
	}
}
