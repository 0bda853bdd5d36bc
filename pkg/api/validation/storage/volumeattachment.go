package storage

import (
	"math"

	storagev1 "k8s.io/api/storage/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

const (
	maxAttachmentMetadataSize = 256 * (1 << 10)
	maxVolumeErrorMessageSize = 1024
	exactlyOneSource          = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
)

// ValidateVolumeAttachment validates a VolumeAttachment: which driver
// attaches which volume (a PersistentVolume, or one inline in a pod) to
// which node, and the status the driver reports.
func ValidateVolumeAttachment(va *storagev1.VolumeAttachment) field.ErrorList {
	errs := validation.ValidateObjectMeta(&va.ObjectMeta, false, validateClassName, metadataPath)
	specPath := field.NewPath("spec")
	errs = append(errs, validation.ValidateCSIDriverName(va.Spec.Attacher, specPath.Child("attacher"))...)
	errs = append(errs, validateAttachmentSource(&va.Spec.Source, specPath.Child("source"))...)
	errs = append(errs, validation.ValidateName(validation.ValidateNodeName, va.Spec.NodeName, specPath.Child("nodeName"))...)
	return append(errs, validateAttachmentStatus(&va.Status, field.NewPath("status"))...)
}

// ValidateVolumeAttachmentUpdate validates an update of a VolumeAttachment,
// whose spec is fixed: a different attachment is a different object. It
// checks writes to the status as well.
func ValidateVolumeAttachmentUpdate(va, old *storagev1.VolumeAttachment) field.ErrorList {
	errs := ValidateVolumeAttachment(va)
	errs = append(errs, validation.ValidateObjectMetaUpdate(&va.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(errs, immutable(va.Spec, old.Spec, field.NewPath("spec"))...)
}

func validateAttachmentSource(s *storagev1.VolumeAttachmentSource, fldPath *field.Path) field.ErrorList {
	switch {
	case s.InlineVolumeSpec == nil && s.PersistentVolumeName == nil:
		return field.ErrorList{field.Required(fldPath, exactlyOneSource)}
	case s.InlineVolumeSpec != nil && s.PersistentVolumeName != nil:
		return field.ErrorList{field.Forbidden(fldPath, exactlyOneSource)}
	case s.PersistentVolumeName != nil:
		name := *s.PersistentVolumeName
		if name == "" {
			return field.ErrorList{field.Required(fldPath.Child("persistentVolumeName"), "must specify non empty persistentVolumeName")}
		}
		return validation.ValidateName(apimachineryvalidation.NameIsDNSSubdomain, name, fldPath.Child("persistentVolumeName"))
	default:
		return validation.ValidatePersistentVolumeSpec(s.InlineVolumeSpec, fldPath.Child("inlineVolumeSpec"))
	}
}

func validateAttachmentStatus(s *storagev1.VolumeAttachmentStatus, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for k, v := range s.AttachmentMetadata {
		size += len(k) + len(v)
	}
	if size > maxAttachmentMetadataSize {
		errs = append(errs, field.TooLong(fldPath.Child("attachmentMetadata"), "", maxAttachmentMetadataSize))
	}
	errs = append(errs, validateVolumeError(s.AttachError, fldPath.Child("attachError"))...)
	return append(errs, validateVolumeError(s.DetachError, fldPath.Child("detachError"))...)
}

func validateVolumeError(e *storagev1.VolumeError, fldPath *field.Path) field.ErrorList {
	if e == nil {
		return nil
	}
	var errs field.ErrorList
	if len(e.Message) > maxVolumeErrorMessageSize {
		errs = append(errs, field.TooLong(fldPath.Child("message"), "", maxVolumeErrorMessageSize))
	}
	if e.ErrorCode != nil && *e.ErrorCode < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("errorCode"), *e.ErrorCode, utilvalidation.InclusiveRangeError(0, math.MaxInt32)))
	}
	return errs
}
