package defaults

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// PersistentVolume defaults a volume as upstream does: a new volume is
// Pending, it is kept when released (Retain), it holds a filesystem, a host
// path's type is unset, and its capacity is rounded up to milli precision.
func PersistentVolume(pv *corev1.PersistentVolume) {
	if pv.Status.Phase == "" {
		pv.Status.Phase = corev1.VolumePending
	}
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		pv.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
	if hp := pv.Spec.HostPath; hp != nil && hp.Type == nil {
		hp.Type = ptr.To(corev1.HostPathUnset)
	}
	roundUp(pv.Spec.Capacity)
}

// The finalizers upstream's StorageObjectInUseProtection admission adds on
// create, which hold a deleted claim while pods use it and a deleted volume
// while a claim is bound to it, until the protection controllers release them.
const (
	PVCProtectionFinalizer = "kubernetes.io/pvc-protection"
	PVProtectionFinalizer  = "kubernetes.io/pv-protection"
)

// NewPersistentVolume adds the protection finalizer to a volume being
// created. It must not run on updates: the controller's removal must stay.
func NewPersistentVolume(pv *corev1.PersistentVolume) {
	addFinalizer(&pv.ObjectMeta, PVProtectionFinalizer)
}

// NewPersistentVolumeClaim adds the protection finalizer to a claim being
// created. It must not run on updates: the controller's removal must stay.
func NewPersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) {
	addFinalizer(&pvc.ObjectMeta, PVCProtectionFinalizer)
}

func addFinalizer(m *metav1.ObjectMeta, f string) {
	if !slices.Contains(m.Finalizers, f) {
		m.Finalizers = append(m.Finalizers, f)
	}
}
