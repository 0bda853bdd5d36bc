package apps

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// mustEqual fails with both objects as JSON when got is not semantically want.
func mustEqual(t *testing.T, want, got any) {
	t.Helper()
	if !apiequality.Semantic.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", "  ")
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("defaulted object differs\nwant: %s\ngot:  %s", w, g)
	}
}

func podTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
}

// expectTemplateDefaulted checks a template's pod spec got the pod
// template defaults of package defaults, and not the pod-only ones.
func expectTemplateDefaulted(t *testing.T, spec *corev1.PodSpec) {
	t.Helper()
	c := spec.Containers[0]
	if spec.RestartPolicy != corev1.RestartPolicyAlways || spec.DNSPolicy != corev1.DNSClusterFirst ||
		spec.TerminationGracePeriodSeconds == nil || c.ImagePullPolicy != corev1.PullIfNotPresent ||
		c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("template's pod spec not defaulted: %+v", spec)
	}
	if len(spec.Tolerations) != 0 || spec.ServiceAccountName != "" || spec.EnableServiceLinks != nil {
		t.Errorf("template got a pod's admission defaults: %+v", spec)
	}
}

func TestDeployment(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: podTemplate()}}
	Deployment(d)
	expectTemplateDefaulted(t, &d.Spec.Template.Spec)
	d.Spec.Template = corev1.PodTemplateSpec{}
	mustEqual(t, appsv1.DeploymentSpec{
		Replicas: ptr.To(int32(1)),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%")),
		}},
		RevisionHistoryLimit:    ptr.To(int32(10)),
		ProgressDeadlineSeconds: ptr.To(int32(600)),
	}, d.Spec)

	// What is set stays; a Recreate strategy gets no rolling update; half a
	// rolling update is completed.
	set := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(int32(0)), RevisionHistoryLimit: ptr.To(int32(0)), ProgressDeadlineSeconds: ptr.To(int32(60)),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
	}}
	Deployment(set)
	if *set.Spec.Replicas != 0 || *set.Spec.RevisionHistoryLimit != 0 || *set.Spec.ProgressDeadlineSeconds != 60 || set.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("set fields replaced: %+v", set.Spec)
	}
	half := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0))}}}}
	Deployment(half)
	mustEqual(t, &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromString("25%"))},
		half.Spec.Strategy.RollingUpdate)
}

func TestReplicaSet(t *testing.T) {
	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: podTemplate()}}
	ReplicaSet(rs)
	expectTemplateDefaulted(t, &rs.Spec.Template.Spec)
	// Unlike a replication controller, nothing is taken from the template.
	if *rs.Spec.Replicas != 1 || rs.Spec.Selector != nil || rs.Labels != nil {
		t.Errorf("replica set defaulted to %+v", rs)
	}
	zero := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(0))}}
	ReplicaSet(zero)
	if *zero.Spec.Replicas != 0 {
		t.Errorf("replicas 0 replaced by %d", *zero.Spec.Replicas)
	}
}

func TestDaemonSet(t *testing.T) {
	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: podTemplate()}}
	DaemonSet(ds)
	expectTemplateDefaulted(t, &ds.Spec.Template.Spec)
	ds.Spec.Template = corev1.PodTemplateSpec{}
	mustEqual(t, appsv1.DaemonSetSpec{
		UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0)),
		}},
		RevisionHistoryLimit: ptr.To(int32(10)),
	}, ds.Spec)

	onDelete := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}}}
	DaemonSet(onDelete)
	if onDelete.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete got a rolling update: %+v", onDelete.Spec.UpdateStrategy)
	}
}

func TestStatefulSet(t *testing.T) {
	s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
		Template: podTemplate(),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}}},
	}}
	StatefulSet(s)
	expectTemplateDefaulted(t, &s.Spec.Template.Spec)
	s.Spec.Template = corev1.PodTemplateSpec{}
	mustEqual(t, appsv1.StatefulSetSpec{
		Replicas:            ptr.To(int32(1)),
		PodManagementPolicy: appsv1.OrderedReadyPodManagement,
		UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{
			Partition: ptr.To(int32(0)), MaxUnavailable: ptr.To(intstr.FromInt32(1)),
		}},
		PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		},
		RevisionHistoryLimit: ptr.To(int32(10)),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				VolumeMode: ptr.To(corev1.PersistentVolumeFilesystem),
				Resources:  corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
		}},
	}, s.Spec)

	// A RollingUpdate strategy given without its block gets none, as
	// upstream's; OnDelete gets no partition; a half-set policy is completed.
	for _, tc := range []struct {
		name     string
		strategy appsv1.StatefulSetUpdateStrategy
		want     *appsv1.RollingUpdateStatefulSetStrategy
	}{
		{"rolling update, no block", appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}, nil},
		{"on delete", appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}, nil},
		{"partition set", appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(2))}},
			&appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(2)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
	} {
		s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: tc.strategy,
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}}}
		StatefulSet(s)
		if !apiequality.Semantic.DeepEqual(tc.want, s.Spec.UpdateStrategy.RollingUpdate) {
			t.Errorf("%s: rolling update %+v, want %+v", tc.name, s.Spec.UpdateStrategy.RollingUpdate, tc.want)
		}
		if p := s.Spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType ||
			p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
			t.Errorf("%s: retention policy %+v", tc.name, p)
		}
	}
}

// TestIdempotent: defaulting a defaulted object changes nothing, since the
// API server defaults on every update too.
func TestIdempotent(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: podTemplate()}}
	Deployment(d)
	again := d.DeepCopy()
	Deployment(again)
	mustEqual(t, d, again)
	s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: podTemplate(), VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{}}}}
	StatefulSet(s)
	sAgain := s.DeepCopy()
	StatefulSet(sAgain)
	mustEqual(t, s, sAgain)
}
