package validation

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePersistentVolumeClaimName and ValidatePersistentVolumeName are the
// name rules of claims and volumes, and of the storage and volume attributes
// classes they name.
var (
	ValidatePersistentVolumeClaimName NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidatePersistentVolumeName      NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	validateClassName                 NameFunc = apimachineryvalidation.NameIsDNSSubdomain
)

// Access and volume modes a claim or volume may ask for, listed sorted as
// upstream's "supported values" are.
var (
	supportedAccessModes = []corev1.PersistentVolumeAccessMode{
		corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod,
	}
	supportedVolumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
)

const (
	isNotPositiveErrorMsg = "must be greater than zero"
	// betaStorageClassAnnotation is how claims named their class before
	// spec.storageClassName existed.
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
)

// ValidatePersistentVolumeClaim validates a new claim: its metadata and spec.
func ValidatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := ValidateObjectMeta(&pvc.ObjectMeta, true, ValidatePersistentVolumeClaimName, metadataPath)
	return append(errs, ValidatePersistentVolumeClaimSpec(&pvc.Spec, field.NewPath("spec"))...)
}

// ValidatePersistentVolumeClaimSpec checks a claim's spec, and a StatefulSet's
// claim templates: access modes, a positive storage request, the selector, the
// class names, the volume mode and the data source.
func ValidatePersistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	}
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	errs = append(errs, validateAccessModes(spec.AccessModes, fldPath.Child("accessModes"))...)
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(storagePath, q.String(), isNotPositiveErrorMsg))
	}
	if c := spec.StorageClassName; c != nil && *c != "" {
		errs = append(errs, ValidateName(validateClassName, *c, fldPath.Child("storageClassName"))...)
	}
	if m := spec.VolumeMode; m != nil && !slices.Contains(supportedVolumeModes, *m) {
		errs = append(errs, field.NotSupported(fldPath.Child("volumeMode"), *m, supportedVolumeModes))
	}
	errs = append(errs, validateDataSources(spec, fldPath)...)
	if c := spec.VolumeAttributesClassName; c != nil && *c != "" {
		errs = append(errs, ValidateName(validateClassName, *c, fldPath.Child("volumeAttributesClassName"))...)
	}
	return errs
}

// validateAccessModes reports unknown modes, and ReadWriteOncePod mixed with
// another mode (it promises one pod, the others at least one node).
func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	oncePod, other := false, false
	for _, mode := range modes {
		switch {
		case mode == corev1.ReadWriteOncePod:
			oncePod = true
		case slices.Contains(supportedAccessModes, mode):
			other = true
		default:
			errs = append(errs, field.NotSupported(fldPath, mode, supportedAccessModes))
		}
	}
	if oncePod && other {
		errs = append(errs, field.Forbidden(fldPath, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

// validateDataSources checks dataSource and dataSourceRef, each on its own and
// against each other: without a namespace they must name the same object.
func validateDataSources(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ds := spec.DataSource; ds != nil {
		errs = append(errs, validateDataSourceTarget(ds.APIGroup, ds.Kind, ds.Name, fldPath.Child("dataSource"))...)
	}
	ref := spec.DataSourceRef
	if ref != nil {
		p := fldPath.Child("dataSourceRef")
		errs = append(errs, validateDataSourceTarget(ref.APIGroup, ref.Kind, ref.Name, p)...)
		if ref.Namespace != nil && *ref.Namespace != "" {
			errs = append(errs, ValidateName(ValidateNamespaceName, *ref.Namespace, p.Child("namespace"))...)
		}
	}
	switch {
	case ref != nil && ref.Namespace != nil && *ref.Namespace != "":
		if spec.DataSource != nil {
			errs = append(errs, field.Invalid(fldPath, fldPath.Child("dataSource"), "may not be specified when dataSourceRef.namespace is specified"))
		}
	case ref != nil && spec.DataSource != nil:
		ds := spec.DataSource
		if !apiequality.Semantic.DeepEqual(ds.APIGroup, ref.APIGroup) || ds.Kind != ref.Kind || ds.Name != ref.Name {
			errs = append(errs, field.Invalid(fldPath, fldPath.Child("dataSource"), "must match dataSourceRef"))
		}
	}
	return errs
}

// validateDataSourceTarget checks what a data source names: a kind and a
// name, and an API group unless the kind is a claim.
func validateDataSourceTarget(apiGroup *string, kind, name string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	}
	if kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), ""))
	}
	group := ""
	if apiGroup != nil {
		group = *apiGroup
	}
	if group == "" && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(fldPath, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if group != "" {
		errs = append(errs, invalidEach(fldPath.Child("apiGroup"), group, validation.IsDNS1123Subdomain(group))...)
	}
	return errs
}

// ValidatePersistentVolumeClaimUpdate validates a change to a claim's spec.
// The spec is fixed once created, so that quota cannot be gamed, except that:
// the binder sets volumeName once; a class may be named where none was, or
// where the beta annotation named it; and a bound claim may grow its storage
// request and change its volume attributes class.
func ValidatePersistentVolumeClaimUpdate(newPVC, oldPVC *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newPVC.ObjectMeta, &oldPVC.ObjectMeta, metadataPath)
	errs = append(errs, ValidatePersistentVolumeClaim(newPVC)...)
	newSpec, oldSpec := newPVC.Spec.DeepCopy(), oldPVC.Spec.DeepCopy()
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	oldClass, oldAnnotated := oldPVC.Annotations[betaStorageClassAnnotation]
	newClass, newAnnotated := newPVC.Annotations[betaStorageClassAnnotation]
	switch {
	case oldAnnotated && oldSpec.StorageClassName == nil &&
		newSpec.StorageClassName != nil && *newSpec.StorageClassName == oldClass &&
		(!newAnnotated || newClass == oldClass):
		// Moving the class from the annotation to the field.
		newSpec.StorageClassName = nil
	default:
		if newClass != oldClass {
			errs = append(errs, field.Invalid(metadataPath.Child("annotations", betaStorageClassAnnotation), newClass, fieldImmutableErrorMsg))
		}
		if newSpec.StorageClassName != nil && oldSpec.StorageClassName == nil &&
			(!oldAnnotated || *newSpec.StorageClassName == oldClass) {
			newSpec.StorageClassName = nil
		}
	}
	if newPVC.Status.Phase == corev1.ClaimBound {
		if newSpec.Resources.Requests != nil {
			newSpec.Resources.Requests[corev1.ResourceStorage] = oldPVC.Spec.Resources.Requests[corev1.ResourceStorage]
		}
		newSpec.VolumeAttributesClassName = oldSpec.VolumeAttributesClassName
	}
	if !apiequality.Semantic.DeepEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"+diff.Diff(oldSpec, newSpec)))
	}
	// A claim may ask for less only to recover from a failed expansion: never
	// below what it already has.
	newSize := newPVC.Spec.Resources.Requests[corev1.ResourceStorage]
	oldSize := oldPVC.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 && newSize.Cmp(oldPVC.Status.Capacity[corev1.ResourceStorage]) <= 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newPVC.Spec.VolumeMode, oldPVC.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if oldPVC.Status.CurrentVolumeAttributesClassName != nil {
		vacPath := field.NewPath("spec", "volumeAttributesClassName")
		switch c := newPVC.Spec.VolumeAttributesClassName; {
		case c == nil && oldPVC.Spec.VolumeAttributesClassName != nil:
			errs = append(errs, field.Forbidden(vacPath, "update to nil is forbidden when status.currentVolumeAttributesClassName is not nil"))
		case c != nil && *c == "" && !apiequality.Semantic.DeepEqual(c, oldPVC.Spec.VolumeAttributesClassName):
			errs = append(errs, field.Forbidden(vacPath, "update to empty string is forbidden when status.currentVolumeAttributesClassName is not nil"))
		}
	}
	return errs
}

// resizeStatuses are the states of an expansion a claim's status may report.
var resizeStatuses = []corev1.ClaimResourceStatus{
	corev1.PersistentVolumeClaimControllerResizeInProgress, corev1.PersistentVolumeClaimControllerResizeInfeasible,
	corev1.PersistentVolumeClaimNodeResizeInProgress, corev1.PersistentVolumeClaimNodeResizeInfeasible,
	corev1.PersistentVolumeClaimNodeResizePending,
}

// ValidatePersistentVolumeClaimStatusUpdate validates a write to a claim's
// status, as the binder and the resizer make.
func ValidatePersistentVolumeClaimStatusUpdate(newPVC, oldPVC *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newPVC.ObjectMeta, &oldPVC.ObjectMeta, metadataPath)
	if newPVC.ResourceVersion == "" {
		errs = append(errs, field.Required(field.NewPath("resourceVersion"), ""))
	}
	if len(newPVC.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(field.NewPath("Spec", "accessModes"), ""))
	}
	for name, q := range newPVC.Status.Capacity {
		errs = append(errs, validateBasicQuantity(q, field.NewPath("status", "capacity").Key(string(name)))...)
	}
	statusesPath := field.NewPath("status", "allocatedResourceStatuses")
	for name, s := range newPVC.Status.AllocatedResourceStatuses {
		errs = append(errs, validateClaimResourceKey(string(name), statusesPath)...)
		if !slices.Contains(resizeStatuses, s) {
			errs = append(errs, field.NotSupported(statusesPath, name, resizeStatuses))
		}
	}
	allocPath := field.NewPath("status", "allocatedResources")
	for name, q := range newPVC.Status.AllocatedResources {
		if keyErrs := validateClaimResourceKey(string(name), allocPath); len(keyErrs) > 0 {
			errs = append(errs, keyErrs...)
			continue
		}
		p := allocPath.Key(string(name))
		if qErrs := validateBasicQuantity(q, p); len(qErrs) > 0 {
			errs = append(errs, qErrs...)
		} else if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), isNegativeErrorMsg))
		}
	}
	return errs
}

// validateClaimResourceKey: a claim's resources are named as qualified names,
// and the only Kubernetes-owned one is storage.
func validateClaimResourceKey(name string, fldPath *field.Path) field.ErrorList {
	if errs := ValidateQualifiedName(name, fldPath); len(errs) > 0 {
		return errs
	}
	if isNative(corev1.ResourceName(name)) && corev1.ResourceName(name) != corev1.ResourceStorage {
		return field.ErrorList{field.NotSupported(fldPath, name, []corev1.ResourceName{corev1.ResourceStorage})}
	}
	return nil
}

// validateBasicQuantity reports a negative quantity the way upstream's
// validateBasicResource does, with the value in whole units.
func validateBasicQuantity(q resource.Quantity, fldPath *field.Path) field.ErrorList {
	if q.Value() < 0 {
		return field.ErrorList{field.Invalid(fldPath, q.Value(), "must be a valid resource quantity")}
	}
	return nil
}
