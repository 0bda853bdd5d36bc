package core

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func TestPersistentVolumePhaseTransition(t *testing.T) {
	r := persistentVolumes(kind.Options{})
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "data", ResourceVersion: "7"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv"}},
		},
	}
	r.PrepareForCreate(pv)
	r.Default(pv)
	if errs := r.Validate(pv); len(errs) > 0 {
		t.Fatalf("invalid: %v", errs)
	}
	if pv.Status.Phase != corev1.VolumePending || pv.Status.LastPhaseTransitionTime == nil {
		t.Fatalf("new volume's status %+v, want Pending with a transition time", pv.Status)
	}
	if len(pv.Finalizers) != 1 || pv.Finalizers[0] != "kubernetes.io/pv-protection" {
		t.Errorf("finalizers %v, want the protection finalizer", pv.Finalizers)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("reclaim policy %q, want Retain", pv.Spec.PersistentVolumeReclaimPolicy)
	}

	long := metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	pv.Status.LastPhaseTransitionTime = &long
	same := pv.DeepCopy()
	same.Status.LastPhaseTransitionTime = nil
	same.Status.Message = "waiting"
	r.PrepareForStatusUpdate(same, pv)
	if !same.Status.LastPhaseTransitionTime.Equal(&long) {
		t.Errorf("phase kept, transition time %v, want the stored %v", same.Status.LastPhaseTransitionTime, long)
	}
	moved := pv.DeepCopy()
	moved.Status.Phase = corev1.VolumeAvailable
	r.PrepareForStatusUpdate(moved, pv)
	if moved.Status.LastPhaseTransitionTime.Equal(&long) || time.Since(moved.Status.LastPhaseTransitionTime.Time) > time.Minute {
		t.Errorf("phase moved, transition time %v, want now", moved.Status.LastPhaseTransitionTime)
	}
	if errs := r.ValidateStatusUpdate(moved, pv); len(errs) > 0 {
		t.Errorf("status update refused: %v", errs)
	}
}
