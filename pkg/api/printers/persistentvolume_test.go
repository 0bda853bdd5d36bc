package printers_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestPersistentVolumeColumns(t *testing.T) {
	printerstest.ExpectColumns(t, printers.PersistentVolume(), []string{"Name", "Capacity", "Access Modes", "Reclaim Policy",
		"Status", "Claim", "StorageClass", "VolumeAttributesClass", "Reason", "Age", "VolumeMode*"})
	printerstest.ExpectColumns(t, printers.PersistentVolumeClaim(), []string{"Name", "Status", "Volume", "Capacity",
		"Access Modes", "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode*"})
}

func TestPersistentVolumeCells(t *testing.T) {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "data", CreationTimestamp: ago(3 * time.Hour)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "www-0"},
			StorageClassName:              "manual",
			VolumeMode:                    ptr(corev1.PersistentVolumeFilesystem),
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	assertCells(t, printers.PersistentVolume(), pv, []interface{}{
		"data", "5Gi", "RWO,RWX", "Retain", "Bound", "default/www-0", "manual", "<unset>", "", "3h", "Filesystem"})

	pv.DeletionTimestamp = ptr(ago(time.Second))
	pv.Annotations = map[string]string{"volume.beta.kubernetes.io/storage-class": "old"}
	pv.Spec.ClaimRef, pv.Spec.VolumeMode = nil, nil
	pv.Spec.VolumeAttributesClassName = ptr("gold")
	pv.Status.Reason = "Failed"
	assertCells(t, printers.PersistentVolume(), pv, []interface{}{
		"data", "5Gi", "RWO,RWX", "Retain", "Terminating", "", "old", "gold", "Failed", "3h", "<unset>"})
}

func TestPersistentVolumeClaimCells(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: objectMeta("www-0", 90*time.Second),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			VolumeMode:  ptr(corev1.PersistentVolumeBlock),
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	// Unbound: no capacity or access modes yet, whatever was asked for.
	assertCells(t, printers.PersistentVolumeClaim(), pvc, []interface{}{
		"www-0", "Pending", "", "", "", "", "<unset>", "90s", "Block"})

	pvc.Spec.VolumeName = "data"
	pvc.Spec.StorageClassName = ptr("fast")
	pvc.Status = corev1.PersistentVolumeClaimStatus{
		Phase:       corev1.ClaimBound,
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadOnlyMany},
		Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
	}
	assertCells(t, printers.PersistentVolumeClaim(), pvc, []interface{}{
		"www-0", "Bound", "data", "5Gi", "ROX,RWOP", "fast", "<unset>", "90s", "Block"})
}
