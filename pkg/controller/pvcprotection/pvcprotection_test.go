package pvcprotection

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodUsesClaim(t *testing.T) {
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"}}
	// web-scratch is the claim of web's generic ephemeral volume "scratch".
	ephemeral := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "web-scratch", Namespace: "default",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "web", UID: "pod-uid", Controller: ptr.To(true)}}}}
	pod := func(mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "pod-uid"},
			Spec: corev1.PodSpec{NodeName: "node-1", Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
			}},
		}
		mutate(p)
		return p
	}
	shutDown := func(p *corev1.Pod) {
		p.DeletionTimestamp = &metav1.Time{}
		p.DeletionGracePeriodSeconds = ptr.To(int64(0))
	}
	for _, tc := range []struct {
		name  string
		pod   *corev1.Pod
		claim *corev1.PersistentVolumeClaim
		want  bool
	}{
		{"scheduled pod naming the claim", pod(func(*corev1.Pod) {}), claim, true},
		{"finished pod naming the claim still holds it", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), claim, true},
		{"unscheduled pod", pod(func(p *corev1.Pod) { p.Spec.NodeName = "" }), claim, false},
		{"pod in another namespace", pod(func(p *corev1.Pod) { p.Namespace = "other" }), claim, false},
		{"pod without the volume", pod(func(p *corev1.Pod) { p.Spec.Volumes = p.Spec.Volumes[1:] }), claim, false},
		{"ephemeral claim of the pod", pod(func(*corev1.Pod) {}), ephemeral, true},
		{"ephemeral claim of a pod that has shut down", pod(shutDown), ephemeral, false},
		{"ephemeral claim of another pod of that name", pod(func(p *corev1.Pod) { p.UID = "other-uid" }), ephemeral, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodUsesClaim(tc.pod, tc.claim); got != tc.want {
				t.Errorf("PodUsesClaim = %v, want %v", got, tc.want)
			}
		})
	}
}
