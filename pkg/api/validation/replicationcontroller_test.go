package validation

import (
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// validRC is `kubectl create -f` of a minimal replication controller, defaulted.
func validRC() *corev1.ReplicationController {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	defaults.ReplicationController(rc)
	return rc
}

func TestValidateReplicationControllerMessages(t *testing.T) {
	rc := validRC()
	rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	expectMessage(t, ValidateReplicationController(rc), `spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`)

	rc = validRC()
	rc.Spec.Template.Labels = map[string]string{"app": "other"}
	expectMessage(t, ValidateReplicationController(rc), "spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`")
}

func TestValidateReplicationController(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.ReplicationController)
		want   []e
	}{
		{name: "valid", mutate: func(*corev1.ReplicationController) {}},
		{name: "zero replicas", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Replicas = ptr.To(int32(0)) }},
		{name: "selector is a subset of the labels", mutate: func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Labels["tier"] = "front"
		}},
		{name: "negative replicas", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Replicas = ptr.To(int32(-1)) },
			want: []e{invalid("spec.replicas", "must be greater than or equal to 0")}},
		{name: "negative minReadySeconds", mutate: func(rc *corev1.ReplicationController) { rc.Spec.MinReadySeconds = -1 },
			want: []e{invalid("spec.minReadySeconds", "must be greater than or equal to 0")}},
		{name: "no selector", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Selector = nil },
			want: []e{required("spec.selector")}},
		{name: "no template", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Template = nil },
			want: []e{required("spec.template")}},
		{name: "template without image", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.Containers[0].Image = "" },
			want: []e{required("spec.template.spec.containers[0].image")}},
		{name: "template without containers", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.Containers = nil },
			want: []e{required("spec.template.spec.containers")}},
		{name: "bad template label", mutate: func(rc *corev1.ReplicationController) {
			rc.Spec.Selector = map[string]string{"app": "web"}
			rc.Spec.Template.Labels["bad key"] = "x"
		}, want: []e{invalid("spec.template.labels", "")}},
		{name: "bad template annotation", mutate: func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Annotations = map[string]string{"a/b/c": "x"}
		}, want: []e{invalid("spec.template.annotations", "")}},
		{name: "deadline", mutate: func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To(int64(10))
		},
			want: []e{forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicationController is not Supported")}},
		{name: "OnFailure", mutate: func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		},
			want: []e{notSupported("spec.template.spec.restartPolicy", `supported values: "Always"`)}},
		{name: "no name", mutate: func(rc *corev1.ReplicationController) { rc.Name = "" },
			want: []e{required("metadata.name")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := validRC()
			tc.mutate(rc)
			expectErrs(t, ValidateReplicationController(rc), tc.want...)
		})
	}
}

func TestValidateReplicationControllerUpdate(t *testing.T) {
	old := validRC()
	old.ObjectMeta = stored(old.ObjectMeta)

	scaled := old.DeepCopy()
	scaled.Spec.Replicas = ptr.To(int32(5))
	scaled.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	expectErrs(t, ValidateReplicationControllerUpdate(scaled, old))

	reselected := old.DeepCopy()
	reselected.Spec.Selector = map[string]string{"app": "web", "v": "2"}
	reselected.Spec.Template.Labels = map[string]string{"app": "web", "v": "2"}
	expectErrs(t, ValidateReplicationControllerUpdate(reselected, old))

	bad := old.DeepCopy()
	bad.Namespace = "other"
	bad.Spec.Replicas = ptr.To(int32(-2))
	expectErrs(t, ValidateReplicationControllerUpdate(bad, old),
		invalid("metadata.namespace", "field is immutable"), invalid("spec.replicas", ""))
}

func TestValidateReplicationControllerStatusUpdate(t *testing.T) {
	old := validRC()
	old.ObjectMeta = stored(old.ObjectMeta)
	for _, tc := range []struct {
		name   string
		status corev1.ReplicationControllerStatus
		want   []e
	}{
		{name: "consistent", status: corev1.ReplicationControllerStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: 1}},
		{name: "negative", status: corev1.ReplicationControllerStatus{Replicas: -1, ObservedGeneration: -1},
			want: []e{
				invalid("status.replicas", "must be greater than or equal to 0"), invalid("status.observedGeneration", ""),
				// and 0 > -1
				invalid("status.fullyLabeledReplicas", "cannot be greater than status.replicas"),
				invalid("status.readyReplicas", "cannot be greater than status.replicas"),
				invalid("status.availableReplicas", "cannot be greater than status.replicas"),
			}},
		{name: "more ready than replicas", status: corev1.ReplicationControllerStatus{Replicas: 1, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 3},
			want: []e{
				invalid("status.fullyLabeledReplicas", "cannot be greater than status.replicas"),
				invalid("status.readyReplicas", "cannot be greater than status.replicas"),
				invalid("status.availableReplicas", "cannot be greater than status.replicas"),
				invalid("status.availableReplicas", "cannot be greater than readyReplicas"),
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := old.DeepCopy()
			rc.Status = tc.status
			expectErrs(t, ValidateReplicationControllerStatusUpdate(rc, old), tc.want...)
		})
	}
}

func TestValidateScale(t *testing.T) {
	s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: 3}}
	expectErrs(t, ValidateScale(s))
	s.Spec.Replicas = -1
	expectMessage(t, ValidateScale(s), "spec.replicas: Invalid value: -1: must be greater than or equal to 0")
}
