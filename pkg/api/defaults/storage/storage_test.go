package storage

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
)

func TestStorageClass(t *testing.T) {
	sc := &storagev1.StorageClass{Provisioner: "example.com/nfs"}
	StorageClass(sc)
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults: reclaimPolicy %v, volumeBindingMode %v", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	set := &storagev1.StorageClass{
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimRetain),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
	StorageClass(set)
	if *set.ReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *set.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Errorf("set values replaced: %v, %v", *set.ReclaimPolicy, *set.VolumeBindingMode)
	}
}

func TestCSIDriver(t *testing.T) {
	d := &storagev1.CSIDriver{}
	CSIDriver(d)
	want := storagev1.CSIDriverSpec{
		AttachRequired:                ptr.To(true),
		PodInfoOnMount:                ptr.To(false),
		StorageCapacity:               ptr.To(false),
		RequiresRepublish:             ptr.To(false),
		SELinuxMount:                  ptr.To(false),
		PreventPodSchedulingIfMissing: ptr.To(false),
		FSGroupPolicy:                 ptr.To(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy),
		VolumeLifecycleModes:          []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
	}
	if !apiequality.Semantic.DeepEqual(d.Spec, want) {
		t.Errorf("defaulted spec\n got: %+v\nwant: %+v", d.Spec, want)
	}

	ephemeral := &storagev1.CSIDriver{Spec: storagev1.CSIDriverSpec{
		AttachRequired:       ptr.To(false),
		FSGroupPolicy:        ptr.To(storagev1.FileFSGroupPolicy),
		VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral},
	}}
	CSIDriver(ephemeral)
	if *ephemeral.Spec.AttachRequired || *ephemeral.Spec.FSGroupPolicy != storagev1.FileFSGroupPolicy ||
		len(ephemeral.Spec.VolumeLifecycleModes) != 1 || ephemeral.Spec.VolumeLifecycleModes[0] != storagev1.VolumeLifecycleEphemeral {
		t.Errorf("set values replaced: %+v", ephemeral.Spec)
	}
}
