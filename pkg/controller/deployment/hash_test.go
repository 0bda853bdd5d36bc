package deployment

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The want values were computed by upstream's controller.ComputeHash
// (k8s.io/kubernetes v1.37.2, pkg/controller) for the same templates: users
// see the same ReplicaSet and pod names on Skiff as on Kubernetes.
func TestPodTemplateHashMatchesUpstream(t *testing.T) {
	template := func(image string) *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
		}
	}
	for _, tc := range []struct {
		image     string
		collision *int32
		want      string
	}{
		{"luksa/kubia:v1", nil, "65bbffd9b6"},
		{"luksa/kubia:v1", ptr.To[int32](1), "848b66c775"},
		{"luksa/kubia:v2", nil, "d4699c479"},
	} {
		if got := podTemplateHash(template(tc.image), tc.collision); got != tc.want {
			t.Errorf("hash of %s (collisionCount %v) = %q, want %q", tc.image, ptr.Deref(tc.collision, -1), got, tc.want)
		}
	}
}

func TestReplicaSetNameFitsObjectNames(t *testing.T) {
	long := strings.Repeat("a", 260)
	for _, tc := range []struct{ deployment, want string }{
		{"web", "web-65bbffd9b6"},
		{long, long[:253-11] + "-65bbffd9b6"},
	} {
		if got := replicaSetName(tc.deployment, "65bbffd9b6"); got != tc.want {
			t.Errorf("replicaSetName(%d chars) = %d chars %q, want %q", len(tc.deployment), len(got), got, tc.want)
		}
	}
}

func TestSameTemplateIgnoresOnlyTheHashLabel(t *testing.T) {
	base := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}}
	withHash := *base.DeepCopy()
	withHash.Labels["pod-template-hash"] = "abc"
	otherLabel := *base.DeepCopy()
	otherLabel.Labels["tier"] = "front"
	noLabels := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{}}}
	hashOnly := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"pod-template-hash": "abc"}}}
	for _, tc := range []struct {
		name string
		a, b corev1.PodTemplateSpec
		want bool
	}{
		{"hash label added", base, withHash, true},
		{"another label", base, otherLabel, false},
		{"hash only vs none", noLabels, hashOnly, true},
		{"hash only vs nil", corev1.PodTemplateSpec{}, hashOnly, true},
	} {
		if got := sameTemplate(&tc.a, &tc.b); got != tc.want {
			t.Errorf("%s: sameTemplate = %v, want %v", tc.name, got, tc.want)
		}
		if got := sameTemplate(&tc.b, &tc.a); got != tc.want {
			t.Errorf("%s (swapped): sameTemplate = %v, want %v", tc.name, got, tc.want)
		}
	}
}
