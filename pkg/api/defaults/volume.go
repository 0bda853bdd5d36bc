package defaults

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// defaultFileMode is 0644, the mode of files projected from secrets,
// config maps and the downward API.
const defaultFileMode int32 = 0o644

// defaultTokenExpirationSeconds is a projected service account token's lifetime.
const defaultTokenExpirationSeconds int64 = 3600

func volume(v *corev1.Volume) {
	s := &v.VolumeSource
	if noVolumeSource(s) {
		s.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if s.HostPath != nil && s.HostPath.Type == nil {
		s.HostPath.Type = ptr.To(corev1.HostPathUnset)
	}
	if s.Secret != nil && s.Secret.DefaultMode == nil {
		s.Secret.DefaultMode = ptr.To(defaultFileMode)
	}
	if s.ConfigMap != nil && s.ConfigMap.DefaultMode == nil {
		s.ConfigMap.DefaultMode = ptr.To(defaultFileMode)
	}
	if s.DownwardAPI != nil {
		if s.DownwardAPI.DefaultMode == nil {
			s.DownwardAPI.DefaultMode = ptr.To(defaultFileMode)
		}
		downwardAPIItems(s.DownwardAPI.Items)
	}
	if s.Projected != nil {
		projected(s.Projected)
	}
	if s.ISCSI != nil && s.ISCSI.ISCSIInterface == "" {
		s.ISCSI.ISCSIInterface = "default"
	}
	if s.RBD != nil {
		rbd(&s.RBD.RBDPool, &s.RBD.RadosUser, &s.RBD.Keyring)
	}
	if s.AzureDisk != nil {
		azureDisk(s.AzureDisk)
	}
	if s.ScaleIO != nil {
		if s.ScaleIO.StorageMode == "" {
			s.ScaleIO.StorageMode = "ThinProvisioned"
		}
		if s.ScaleIO.FSType == "" {
			s.ScaleIO.FSType = "xfs"
		}
	}
	if s.Ephemeral != nil && s.Ephemeral.VolumeClaimTemplate != nil {
		claim := &s.Ephemeral.VolumeClaimTemplate.Spec
		if claim.VolumeMode == nil {
			claim.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
		}
		roundUp(claim.Resources.Limits)
		roundUp(claim.Resources.Requests)
	}
}

// noVolumeSource reports whether no source is set; such a volume is an emptyDir.
func noVolumeSource(s *corev1.VolumeSource) bool {
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			return false
		}
	}
	return true
}

func projected(p *corev1.ProjectedVolumeSource) {
	if p.DefaultMode == nil {
		p.DefaultMode = ptr.To(defaultFileMode)
	}
	for i := range p.Sources {
		src := &p.Sources[i]
		if src.DownwardAPI != nil {
			downwardAPIItems(src.DownwardAPI.Items)
		}
		if src.ServiceAccountToken != nil && src.ServiceAccountToken.ExpirationSeconds == nil {
			src.ServiceAccountToken.ExpirationSeconds = ptr.To(defaultTokenExpirationSeconds)
		}
	}
}

func downwardAPIItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if items[i].FieldRef != nil {
			fieldSelector(items[i].FieldRef)
		}
	}
}

func rbd(pool, user, keyring *string) {
	if *pool == "" {
		*pool = "rbd"
	}
	if *user == "" {
		*user = "admin"
	}
	if *keyring == "" {
		*keyring = "/etc/ceph/keyring"
	}
}

func azureDisk(a *corev1.AzureDiskVolumeSource) {
	if a.CachingMode == nil {
		a.CachingMode = ptr.To(corev1.AzureDataDiskCachingReadWrite)
	}
	if a.FSType == nil {
		a.FSType = ptr.To("ext4")
	}
	if a.ReadOnly == nil {
		a.ReadOnly = ptr.To(false)
	}
	if a.Kind == nil {
		a.Kind = ptr.To(corev1.AzureSharedBlobDisk)
	}
}
