package validation

import (
	"fmt"
	"reflect"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// mirrorPodAnnotation marks a node's static pod, which has no ephemeral
// containers and no resize.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// allowedEphemeralContainerFields are upstream's: an ephemeral container is for
// debugging, so nothing the pod's service could come to rely on (ports, probes,
// lifecycle hooks, resources, restart or resize policies). A list of what is
// allowed, so that a field added to containers is refused until considered.
var allowedEphemeralContainerFields = sets.New(
	"Name", "Image", "Command", "Args", "WorkingDir", "EnvFrom", "Env", "VolumeMounts", "VolumeDevices",
	"TerminationMessagePath", "TerminationMessagePolicy", "ImagePullPolicy", "SecurityContext",
	"Stdin", "StdinOnce", "TTY",
)

// validateEphemeralContainers checks spec.ephemeralContainers: each is a valid
// container, named uniquely among all the pod's containers, set up only with
// the allowed fields, and targets (if at all) a container or init container.
func validateEphemeralContainers(ephemeral []corev1.EphemeralContainer, containers, initContainers []corev1.Container, volumes map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	others := sets.New[string]()
	for _, c := range containers {
		others.Insert(c.Name)
	}
	for _, c := range initContainers {
		others.Insert(c.Name)
	}
	names := others.Clone()
	for i := range ephemeral {
		ec := &ephemeral[i]
		idxPath := fldPath.Index(i)
		c := corev1.Container(ec.EphemeralContainerCommon)
		errs = append(errs, validateContainerCommon(&c, volumes, idxPath)...)
		// Ephemeral containers exist only in pods, where images must be exact.
		errs = append(errs, validateImageNoWhitespace(c.Image, idxPath.Child("image"))...)
		if names.Has(ec.Name) {
			errs = append(errs, field.Duplicate(idxPath.Child("name"), ec.Name))
		} else {
			names.Insert(ec.Name)
		}
		if ec.TargetContainerName != "" && !others.Has(ec.TargetContainerName) {
			errs = append(errs, field.NotFound(idxPath.Child("targetContainerName"), ec.TargetContainerName))
		}
		errs = append(errs, validateFieldAllowList(ec.EphemeralContainerCommon, allowedEphemeralContainerFields, "cannot be set for an Ephemeral Container", idxPath)...)
		// A subPath is a bind mount that outlives the container until the pod
		// exits, and implies the container is part of the workload.
		for j, vm := range ec.VolumeMounts {
			if vm.SubPath != "" {
				errs = append(errs, field.Forbidden(idxPath.Child("volumeMounts").Index(j).Child("subPath"), "cannot be set for an Ephemeral Container"))
			}
			if vm.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(idxPath.Child("volumeMounts").Index(j).Child("subPathExpr"), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return errs
}

// validateFieldAllowList forbids each field of the struct value that is set
// and not allowed, named as in JSON (the Go name with a lower-case initial).
func validateFieldAllowList(value any, allowed sets.Set[string], detail string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	t, v := reflect.TypeOf(value), reflect.ValueOf(value)
	for i := range t.NumField() {
		f := t.Field(i)
		if allowed.Has(f.Name) || v.Field(i).IsZero() {
			continue
		}
		r, n := utf8.DecodeRuneInString(f.Name)
		errs = append(errs, field.Forbidden(fldPath.Child(string(unicode.ToLower(r))+f.Name[n:]), detail))
	}
	return errs
}

// ValidatePodEphemeralContainersUpdate validates a write to
// pods/ephemeralcontainers, where newPod differs from oldPod at most in
// spec.ephemeralContainers: the pod must stay valid, and ephemeral containers
// may only be added, never changed or removed (the node cannot take them back).
func ValidatePodEphemeralContainersUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newPod.ObjectMeta, &oldPod.ObjectMeta, metadataPath)
	errs = append(errs, validatePodMetadataAndSpec(newPod)...)
	if _, ok := oldPod.Annotations[mirrorPodAnnotation]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods do not support ephemeral containers")}
	}
	// Patches do not keep order, so each is found by name.
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range newPod.Spec.EphemeralContainers {
		byName[newPod.Spec.EphemeralContainers[i].Name] = &newPod.Spec.EphemeralContainers[i]
	}
	specPath := field.NewPath("spec", "ephemeralContainers")
	for _, old := range oldPod.Spec.EphemeralContainers {
		switch c, ok := byName[old.Name]; {
		case !ok:
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", old.Name)))
		case !apiequality.Semantic.DeepEqual(old, *c):
			errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("existing ephemeral containers %q may not be changed\n%v", old.Name, jsonDiff(old, *c))))
		}
	}
	return errs
}
