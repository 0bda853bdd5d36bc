package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestReplicationController(t *testing.T) {
	labels := map[string]string{"app": "web"}
	template := func() *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
		}
	}
	defaultedTemplate := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{defaultedContainer("web", "nginx", corev1.PullAlways)},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To(int64(30)),
			DNSPolicy:                     corev1.DNSClusterFirst,
			SecurityContext:               &corev1.PodSecurityContext{},
			SchedulerName:                 "default-scheduler",
		},
	}
	for _, tc := range []struct {
		name string
		in   *corev1.ReplicationController
		want *corev1.ReplicationController
	}{
		{
			name: "everything from the template",
			in:   &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: template()}},
			want: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.ReplicationControllerSpec{Replicas: ptr.To(int32(1)), Selector: labels, Template: defaultedTemplate},
			},
		},
		{
			name: "own selector, labels and replicas kept",
			in: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "front"}},
				Spec:       corev1.ReplicationControllerSpec{Replicas: ptr.To(int32(0)), Selector: map[string]string{"app": "web"}, Template: template()},
			},
			want: &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "front"}},
				Spec:       corev1.ReplicationControllerSpec{Replicas: ptr.To(int32(0)), Selector: labels, Template: defaultedTemplate},
			},
		},
		{
			name: "no template",
			in:   &corev1.ReplicationController{},
			want: &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To(int32(1))}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ReplicationController(tc.in)
			mustEqual(t, tc.want, tc.in)
		})
	}
}

// TestReplicationControllerSelectorIsACopy: changing the template's labels later
// must not move the selector with them.
func TestReplicationControllerSelectorIsACopy(t *testing.T) {
	rc := &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
	}}}
	ReplicationController(rc)
	rc.Spec.Template.Labels["app"] = "other"
	if rc.Spec.Selector["app"] != "web" || rc.Labels["app"] != "web" {
		t.Errorf("selector %v / labels %v follow the template", rc.Spec.Selector, rc.Labels)
	}
}
