package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodTemplate(t *testing.T) {
	pt := &corev1.PodTemplate{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}}}}
	PodTemplate(pt)
	if pt.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || pt.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("template not defaulted: %+v", pt.Template.Spec)
	}
}
