package validation

import (
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// supportedReclaimPolicies, sorted as upstream lists them.
var supportedReclaimPolicies = []corev1.PersistentVolumeReclaimPolicy{
	corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain,
}

// mountOptionsAnnotation carries mount options for the volume types that take them.
const mountOptionsAnnotation = "volume.beta.kubernetes.io/mount-options"

// pvSource is one of PersistentVolumeSource's members: its name in upstream's
// messages, whether it is set, and its own checks (nil: none beyond being set).
type pvSource struct {
	name     string
	set      func(*corev1.PersistentVolumeSource) bool
	validate func(*corev1.PersistentVolumeSource, *field.Path) field.ErrorList
	// mountOptions is true for the types that accept mount options.
	mountOptions bool
}

// pvSources lists the volume types in the order upstream checks them, so that
// "may not specify more than 1 volume type" names the same one. Only the
// types a Skiff cluster can use are checked in depth; the cloud and legacy
// in-tree types are only counted.
var pvSources = []pvSource{
	{name: "hostPath", set: func(s *corev1.PersistentVolumeSource) bool { return s.HostPath != nil }, validate: validateHostPathPV},
	{name: "gcePersistentDisk", set: func(s *corev1.PersistentVolumeSource) bool { return s.GCEPersistentDisk != nil }, mountOptions: true},
	{name: "awsElasticBlockStore", set: func(s *corev1.PersistentVolumeSource) bool { return s.AWSElasticBlockStore != nil }, mountOptions: true},
	{name: "glusterfs", set: func(s *corev1.PersistentVolumeSource) bool { return s.Glusterfs != nil }, mountOptions: true},
	{name: "flocker", set: func(s *corev1.PersistentVolumeSource) bool { return s.Flocker != nil }},
	{name: "nfs", set: func(s *corev1.PersistentVolumeSource) bool { return s.NFS != nil }, validate: validateNFSPV, mountOptions: true},
	{name: "rbd", set: func(s *corev1.PersistentVolumeSource) bool { return s.RBD != nil }, mountOptions: true},
	{name: "quobyte", set: func(s *corev1.PersistentVolumeSource) bool { return s.Quobyte != nil }, mountOptions: true},
	{name: "cephFS", set: func(s *corev1.PersistentVolumeSource) bool { return s.CephFS != nil }, mountOptions: true},
	{name: "iscsi", set: func(s *corev1.PersistentVolumeSource) bool { return s.ISCSI != nil }, mountOptions: true},
	{name: "cinder", set: func(s *corev1.PersistentVolumeSource) bool { return s.Cinder != nil }, mountOptions: true},
	{name: "fc", set: func(s *corev1.PersistentVolumeSource) bool { return s.FC != nil }},
	{name: "flexVolume", set: func(s *corev1.PersistentVolumeSource) bool { return s.FlexVolume != nil }},
	{name: "azureFile", set: func(s *corev1.PersistentVolumeSource) bool { return s.AzureFile != nil }, mountOptions: true},
	{name: "vsphereVolume", set: func(s *corev1.PersistentVolumeSource) bool { return s.VsphereVolume != nil }, mountOptions: true},
	{name: "photonPersistentDisk", set: func(s *corev1.PersistentVolumeSource) bool { return s.PhotonPersistentDisk != nil }, mountOptions: true},
	{name: "portworxVolume", set: func(s *corev1.PersistentVolumeSource) bool { return s.PortworxVolume != nil }},
	{name: "azureDisk", set: func(s *corev1.PersistentVolumeSource) bool { return s.AzureDisk != nil }, mountOptions: true},
	{name: "scaleIO", set: func(s *corev1.PersistentVolumeSource) bool { return s.ScaleIO != nil }},
	{name: "local", set: func(s *corev1.PersistentVolumeSource) bool { return s.Local != nil }, validate: validateLocalPV},
	{name: "storageos", set: func(s *corev1.PersistentVolumeSource) bool { return s.StorageOS != nil }},
	{name: "csi", set: func(s *corev1.PersistentVolumeSource) bool { return s.CSI != nil }, validate: validateCSIPV},
}

// ValidatePersistentVolume validates a new volume: its metadata and spec.
func ValidatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	errs := ValidateObjectMeta(&pv.ObjectMeta, false, ValidatePersistentVolumeName, metadataPath)
	errs = append(errs, validatePersistentVolumeSpec(&pv.Spec, field.NewPath("spec"))...)
	return append(errs, validateMountOptions(pv)...)
}

func validatePersistentVolumeSpec(spec *corev1.PersistentVolumeSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(fldPath.Child("accessModes"), ""))
	}
	errs = append(errs, validateAccessModes(spec.AccessModes, fldPath.Child("accessModes"))...)
	capPath := fldPath.Child("capacity")
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(capPath, ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(capPath, spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for name, q := range spec.Capacity {
		p := capPath.Key(string(name))
		errs = append(errs, validateBasicQuantity(q, p)...)
		if q.Sign() <= 0 {
			errs = append(errs, field.Invalid(p, q.String(), isNotPositiveErrorMsg))
		}
	}
	if p := spec.PersistentVolumeReclaimPolicy; p != "" && !slices.Contains(supportedReclaimPolicies, p) {
		errs = append(errs, field.NotSupported(fldPath.Child("persistentVolumeReclaimPolicy"), p, supportedReclaimPolicies))
	}
	if spec.NodeAffinity != nil {
		errs = append(errs, validateVolumeNodeAffinity(spec.NodeAffinity, fldPath.Child("nodeAffinity"))...)
	}
	errs = append(errs, validatePVSource(spec, fldPath)...)
	if spec.HostPath != nil && path.Clean(spec.HostPath.Path) == "/" && spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(fldPath.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if spec.StorageClassName != "" {
		errs = append(errs, ValidateName(validateClassName, spec.StorageClassName, fldPath.Child("storageClassName"))...)
	}
	if m := spec.VolumeMode; m != nil && !slices.Contains(supportedVolumeModes, *m) {
		errs = append(errs, field.NotSupported(fldPath.Child("volumeMode"), *m, supportedVolumeModes))
	}
	if c := spec.VolumeAttributesClassName; c != nil {
		vacPath := fldPath.Child("volumeAttributesClassName")
		if *c == "" {
			errs = append(errs, field.Required(vacPath, "an empty string is disallowed"))
		} else {
			errs = append(errs, ValidateName(validateClassName, *c, vacPath)...)
		}
		if spec.CSI == nil {
			errs = append(errs, field.Required(fldPath.Child("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	return errs
}

// validatePVSource checks that exactly one volume type is set, and that one.
// A local volume lives on some node, so it must say which.
func validatePVSource(spec *corev1.PersistentVolumeSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	set := 0
	for _, src := range pvSources {
		if !src.set(&spec.PersistentVolumeSource) {
			continue
		}
		// Upstream never refuses flexVolume as a second type; it only counts it.
		if set > 0 && src.name != "flexVolume" {
			errs = append(errs, field.Forbidden(fldPath.Child(src.name), "may not specify more than 1 volume type"))
			continue
		}
		set++
		if src.validate != nil {
			errs = append(errs, src.validate(&spec.PersistentVolumeSource, fldPath)...)
		}
		if src.name == "local" && spec.NodeAffinity == nil {
			errs = append(errs, field.Required(fldPath.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	if set == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a volume type"))
	}
	return errs
}

func validateHostPathPV(s *corev1.PersistentVolumeSource, fldPath *field.Path) field.ErrorList {
	p := fldPath.Child("hostPath")
	if s.HostPath.Path == "" {
		return field.ErrorList{field.Required(p.Child("path"), "")}
	}
	errs := validatePathNoBacksteps(s.HostPath.Path, p.Child("path"))
	if t := s.HostPath.Type; t != nil && !contains(supportedHostPathTypes, *t) {
		errs = append(errs, field.NotSupported(p.Child("type"), *t, supportedHostPathTypes))
	}
	return errs
}

func validateNFSPV(s *corev1.PersistentVolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	p := fldPath.Child("nfs")
	if s.NFS.Server == "" {
		errs = append(errs, field.Required(p.Child("server"), ""))
	}
	if s.NFS.Path == "" {
		errs = append(errs, field.Required(p.Child("path"), ""))
	}
	if !path.IsAbs(s.NFS.Path) {
		errs = append(errs, field.Invalid(p.Child("path"), s.NFS.Path, "must be an absolute path"))
	}
	return errs
}

func validateLocalPV(s *corev1.PersistentVolumeSource, fldPath *field.Path) field.ErrorList {
	p := fldPath.Child("local", "path")
	if s.Local.Path == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	return validatePathNoBacksteps(s.Local.Path, p)
}

func validateCSIPV(s *corev1.PersistentVolumeSource, fldPath *field.Path) field.ErrorList {
	csi := s.CSI
	p := fldPath.Child("csi")
	errs := validateCSIDriverName(csi.Driver, p.Child("driver"))
	if csi.VolumeHandle == "" {
		errs = append(errs, field.Required(p.Child("volumeHandle"), ""))
	}
	for _, ref := range []struct {
		name string
		ref  *corev1.SecretReference
	}{
		{"controllerPublishSecretRef", csi.ControllerPublishSecretRef},
		{"controllerExpandSecretRef", csi.ControllerExpandSecretRef},
		{"nodePublishSecretRef", csi.NodePublishSecretRef},
		{"nodeExpandSecretRef", csi.NodeExpandSecretRef},
	} {
		if ref.ref != nil {
			errs = append(errs, validatePVSecretReference(ref.ref, p.Child(ref.name))...)
		}
	}
	return errs
}

// validateCSIDriverName: a driver is named like a DNS subdomain, in any case,
// of at most 63 characters.
func validateCSIDriverName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	if len(name) > 63 {
		errs = append(errs, field.TooLong(fldPath, "", 63))
	}
	return append(errs, invalidEach(fldPath, name, validation.IsDNS1123Subdomain(strings.ToLower(name)))...)
}

// validatePVSecretReference: a volume is cluster-wide, so a secret it names
// must say which namespace it is in.
func validatePVSecretReference(ref *corev1.SecretReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ref.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else {
		errs = append(errs, validateDNS1123Subdomain(ref.Name, fldPath.Child("name"))...)
	}
	if ref.Namespace == "" {
		errs = append(errs, field.Required(fldPath.Child("namespace"), ""))
	} else {
		errs = append(errs, ValidateDNS1123Label(ref.Namespace, fldPath.Child("namespace"))...)
	}
	return errs
}

// validateMountOptions refuses mount options on the types that take none
// (hostPath, local and CSI among them).
func validateMountOptions(pv *corev1.PersistentVolume) field.ErrorList {
	if _, ok := pv.Annotations[mountOptionsAnnotation]; !ok {
		return nil
	}
	for _, src := range pvSources {
		if src.mountOptions && src.set(&pv.Spec.PersistentVolumeSource) {
			return nil
		}
	}
	return field.ErrorList{field.Forbidden(metadataPath.Child("annotations", mountOptionsAnnotation), "may not specify mount options for this volume type")}
}

// validateVolumeNodeAffinity: a volume's node affinity is a required node selector.
func validateVolumeNodeAffinity(na *corev1.VolumeNodeAffinity, fldPath *field.Path) field.ErrorList {
	if na.Required == nil {
		return field.ErrorList{field.Required(fldPath.Child("required"), "must specify required node constraints")}
	}
	return validateNodeSelector(na.Required, fldPath.Child("required"))
}

// ValidatePersistentVolumeUpdate validates a change to a volume. What backs it
// (its source), its volume mode and, once set, its node affinity are fixed;
// a CSI volume may gain the secret that expansion needs.
func ValidatePersistentVolumeUpdate(newPV, oldPV *corev1.PersistentVolume) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newPV.ObjectMeta, &oldPV.ObjectMeta, metadataPath)
	errs = append(errs, ValidatePersistentVolume(newPV)...)
	newSource := newPV.Spec.PersistentVolumeSource.DeepCopy()
	if oldPV.Spec.CSI != nil && oldPV.Spec.CSI.ControllerExpandSecretRef == nil && newSource.CSI != nil {
		newSource.CSI.ControllerExpandSecretRef = nil
	}
	if !apiequality.Semantic.DeepEqual(*newSource, oldPV.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"),
			"spec.persistentvolumesource is immutable after creation\n"+diff.Diff(oldPV.Spec.PersistentVolumeSource, *newSource)))
	}
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newPV.Spec.VolumeMode, oldPV.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if oldPV.Spec.NodeAffinity != nil && !apiequality.Semantic.DeepEqual(newPV.Spec.NodeAffinity, oldPV.Spec.NodeAffinity) {
		errs = append(errs, field.Invalid(field.NewPath("nodeAffinity"), newPV.Spec.NodeAffinity, fieldImmutableErrorMsg+", except for updating from beta label to GA"))
	}
	if oldPV.Spec.VolumeAttributesClassName != nil && newPV.Spec.VolumeAttributesClassName == nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
	}
	return errs
}

// ValidatePersistentVolumeStatusUpdate validates a write to a volume's status.
func ValidatePersistentVolumeStatusUpdate(newPV, oldPV *corev1.PersistentVolume) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newPV.ObjectMeta, &oldPV.ObjectMeta, metadataPath)
	if newPV.ResourceVersion == "" {
		errs = append(errs, field.Required(field.NewPath("resourceVersion"), ""))
	}
	return errs
}
