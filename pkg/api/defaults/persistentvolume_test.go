package defaults

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

func TestPersistentVolume(t *testing.T) {
	pv := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("0.0001")},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
	}}
	PersistentVolume(pv)
	want := &corev1.PersistentVolume{
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1m")},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data", Type: ptr.To(corev1.HostPathUnset)}},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			VolumeMode:                    ptr.To(corev1.PersistentVolumeFilesystem),
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumePending},
	}
	mustEqual(t, want, pv)

	NewPersistentVolume(pv)
	NewPersistentVolume(pv)
	if len(pv.Finalizers) != 1 || pv.Finalizers[0] != PVProtectionFinalizer {
		t.Errorf("finalizers %v, want the protection finalizer once", pv.Finalizers)
	}

	set := &corev1.PersistentVolume{
		Spec:   corev1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete, VolumeMode: ptr.To(corev1.PersistentVolumeBlock)},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	PersistentVolume(set)
	if set.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *set.Spec.VolumeMode != corev1.PersistentVolumeBlock || set.Status.Phase != corev1.VolumeBound {
		t.Errorf("set fields replaced: %+v", set)
	}
}
