package printers

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// storageClassAnnotation named a class before spec.storageClassName existed;
// where set, it still wins.
const storageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

// PersistentVolume prints NAME, CAPACITY, ACCESS MODES, RECLAIM POLICY,
// STATUS, CLAIM, STORAGECLASS, VOLUMEATTRIBUTESCLASS, REASON, AGE and, with
// -o wide, VOLUMEMODE.
func PersistentVolume() Printer {
	return New([]metav1.TableColumnDefinition{
		NameColumn(),
		{Name: "Capacity", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]},
		{Name: "Access Modes", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]},
		{Name: "Reclaim Policy", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]},
		{Name: "Status", Type: "string", Description: corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]},
		{Name: "Claim", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]},
		{Name: "StorageClass", Type: "string", Description: "StorageClass of the pv"},
		{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pv"},
		{Name: "Reason", Type: "string", Description: corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]},
		AgeColumn(),
		{Name: "VolumeMode", Type: "string", Priority: 1, Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]},
	}, persistentVolumeCells)
}

func persistentVolumeCells(pv *corev1.PersistentVolume, now time.Time) []interface{} {
	claim := ""
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = ref.Namespace + "/" + ref.Name
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	class, ok := pv.Annotations[storageClassAnnotation]
	if !ok {
		class = pv.Spec.StorageClassName
	}
	return []interface{}{
		pv.Name,
		capacity.String(),
		accessModes(pv.Spec.AccessModes),
		string(pv.Spec.PersistentVolumeReclaimPolicy),
		volumePhase(string(pv.Status.Phase), pv.ObjectMeta),
		claim,
		class,
		unsetOr(pv.Spec.VolumeAttributesClassName),
		pv.Status.Reason,
		Age(pv.ObjectMeta, now),
		volumeMode(pv.Spec.VolumeMode),
	}
}

// PersistentVolumeClaim prints NAME, STATUS, VOLUME, CAPACITY, ACCESS MODES,
// STORAGECLASS, VOLUMEATTRIBUTESCLASS, AGE and, with -o wide, VOLUMEMODE.
// Capacity and access modes are the bound volume's, blank until bound.
func PersistentVolumeClaim() Printer {
	return New([]metav1.TableColumnDefinition{
		NameColumn(),
		{Name: "Status", Type: "string", Description: corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]},
		{Name: "Volume", Type: "string", Description: corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]},
		{Name: "Capacity", Type: "string", Description: corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]},
		{Name: "Access Modes", Type: "string", Description: corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]},
		{Name: "StorageClass", Type: "string", Description: "StorageClass of the pvc"},
		{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pvc"},
		AgeColumn(),
		{Name: "VolumeMode", Type: "string", Priority: 1, Description: corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]},
	}, persistentVolumeClaimCells)
}

func persistentVolumeClaimCells(pvc *corev1.PersistentVolumeClaim, now time.Time) []interface{} {
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity, modes = q.String(), accessModes(pvc.Status.AccessModes)
	}
	class, ok := pvc.Annotations[storageClassAnnotation]
	if !ok && pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	return []interface{}{
		pvc.Name,
		volumePhase(string(pvc.Status.Phase), pvc.ObjectMeta),
		pvc.Spec.VolumeName,
		capacity,
		modes,
		class,
		unsetOr(pvc.Spec.VolumeAttributesClassName),
		Age(pvc.ObjectMeta, now),
		volumeMode(pvc.Spec.VolumeMode),
	}
}

// accessModes abbreviates modes in a fixed order, each once: "RWO,ROX".
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"},
	} {
		for _, have := range modes {
			if have == m.mode {
				out = append(out, m.short)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

// volumePhase is the phase, or Terminating once deletion has begun.
func volumePhase(phase string, m metav1.ObjectMeta) string {
	if m.DeletionTimestamp != nil {
		return "Terminating"
	}
	return phase
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func unsetOr(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
