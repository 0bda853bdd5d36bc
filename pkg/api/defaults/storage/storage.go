package storage

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"
)

// StorageClass defaults a StorageClass: provisioned volumes are deleted with
// their claim and bound as soon as the claim is made.
func StorageClass(sc *storagev1.StorageClass) {
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingImmediate)
	}
}

// CSIDriver defaults a CSIDriver to what a driver that registers no
// CSIDriver object gets: attached before mounting, told nothing about the
// pod, persistent volumes only, fsGroup applied to ReadWriteOnce volumes
// with an fsType. The features upstream 1.37 enables by default
// (seLinuxMount, preventPodSchedulingIfMissing) default to off.
func CSIDriver(d *storagev1.CSIDriver) {
	s := &d.Spec
	setIfNil(&s.AttachRequired, true)
	setIfNil(&s.PodInfoOnMount, false)
	setIfNil(&s.StorageCapacity, false)
	setIfNil(&s.RequiresRepublish, false)
	setIfNil(&s.SELinuxMount, false)
	setIfNil(&s.PreventPodSchedulingIfMissing, false)
	setIfNil(&s.FSGroupPolicy, storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
	if len(s.VolumeLifecycleModes) == 0 {
		s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
	}
}

func setIfNil[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}
