package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateObjectMeta validates the metadata of an object being created, whose
// name has already been generated from generateName if it had none: the name
// against the kind's rule, the namespace (required for namespaced kinds,
// forbidden otherwise), labels, annotations (256 KiB in all), owner references
// and finalizers.
func ValidateObjectMeta(meta *metav1.ObjectMeta, namespaced bool, nameFn NameFunc, fldPath *field.Path) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(meta, namespaced, nameFn, fldPath)
	for i, f := range meta.Finalizers {
		errs = append(errs, validateKubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return errs
}

// ValidateObjectMetaUpdate validates the metadata of an update: name,
// namespace, uid, creationTimestamp and deletion fields are immutable, the
// resourceVersion must be given, generation may not go down, and no finalizer
// may be added to an object being deleted.
func ValidateObjectMetaUpdate(newMeta, oldMeta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(newMeta, oldMeta, fldPath)
	for i, f := range newMeta.Finalizers {
		errs = append(errs, validateKubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return errs
}

var metadataPath = field.NewPath("metadata")
