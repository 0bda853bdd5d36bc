package node

import (
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var metadataPath = field.NewPath("metadata")

// ValidateRuntimeClass validates a RuntimeClass: its handler names a CRI
// runtime configuration, so it must be a DNS-1123 label; what it adds to
// every pod (overhead, node selector, tolerations) must be valid in a pod.
func ValidateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	errs := validation.ValidateObjectMeta(&rc.ObjectMeta, false, validation.ValidateRuntimeClassName, metadataPath)
	return append(errs, validateRuntimeClassBody(rc)...)
}

// ValidateRuntimeClassUpdate validates an update of a RuntimeClass. The
// handler is immutable: pods already running were started with it.
func ValidateRuntimeClassUpdate(newRC, oldRC *nodev1.RuntimeClass) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&newRC.ObjectMeta, &oldRC.ObjectMeta, metadataPath)
	errs = append(errs, validateRuntimeClassBody(newRC)...)
	return append(errs, apimachineryvalidation.ValidateImmutableField(newRC.Handler, oldRC.Handler, field.NewPath("handler"))...)
}

func validateRuntimeClassBody(rc *nodev1.RuntimeClass) field.ErrorList {
	var errs field.ErrorList
	handlerPath := field.NewPath("handler")
	if rc.Handler == "" {
		errs = append(errs, field.Required(handlerPath, ""))
	} else {
		errs = append(errs, validation.ValidateDNS1123Label(rc.Handler, handlerPath)...)
	}
	if rc.Overhead != nil {
		// Upstream checks the overhead as a container's limits.
		errs = append(errs, validation.ValidateContainerResourceRequirements(
			&corev1.ResourceRequirements{Limits: rc.Overhead.PodFixed}, field.NewPath("overhead"))...)
	}
	if rc.Scheduling != nil {
		errs = append(errs, validateScheduling(rc.Scheduling, field.NewPath("scheduling"))...)
	}
	return errs
}

func validateScheduling(s *nodev1.Scheduling, fldPath *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(s.NodeSelector, fldPath.Child("nodeSelector"))
	tolerationsPath := fldPath.Child("tolerations")
	errs = append(errs, validation.ValidateTolerations(s.Tolerations, tolerationsPath)...)
	// Tolerations are a list keyed by key, operator, value and effect.
	seen := map[corev1.Toleration]bool{}
	for i, t := range s.Tolerations {
		key := corev1.Toleration{Key: t.Key, Operator: t.Operator, Value: t.Value, Effect: t.Effect}
		if seen[key] {
			errs = append(errs, field.Duplicate(tolerationsPath.Index(i), t))
		}
		seen[key] = true
	}
	return errs
}
