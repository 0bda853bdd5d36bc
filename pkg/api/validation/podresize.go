package validation

import (
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePodResize validates a write to pods/resize, where newPod differs
// from oldPod at most in its containers' and init containers' resources and
// resize policies, as upstream's (v1.37: init containers may be resized; pod-level
// resources and memory-backed volumes may not, their feature gates being off
// here): the QoS class must stay, requests and limits may change but not go,
// and only cpu and memory may change.
func ValidatePodResize(newPod, oldPod *corev1.Pod) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newPod.ObjectMeta, &oldPod.ObjectMeta, metadataPath)
	errs = append(errs, validatePodMetadataAndSpec(newPod)...)
	if _, ok := oldPod.Annotations[mirrorPodAnnotation]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods cannot be resized")}
	}
	if oldPod.Spec.OS != nil && oldPod.Spec.OS.Name == corev1.Windows {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "windows pods cannot be resized")}
	}
	specPath := field.NewPath("spec")
	oldQOS := oldPod.Status.QOSClass
	if oldQOS == "" {
		oldQOS = PodQOSClass(&oldPod.Spec)
	}
	if oldQOS != PodQOSClass(&newPod.Spec) {
		errs = append(errs, field.Invalid(specPath, newPod.Status.QOSClass, "Pod QOS Class may not change as a result of resizing"))
	}
	if !nodeSupportsResize(oldPod) {
		errs = append(errs, field.Forbidden(specPath, "Pod running on node without support for resize"))
	}
	if hasPodLevelResources(oldPod) || hasPodLevelResources(newPod) {
		return append(errs, field.Forbidden(field.NewPath(""), "resize of pods with pod-level resources is forbidden when InPlacePodLevelResourcesVerticalScalingEnabled feature gate is disabled"))
	}
	// The rest compares containers index by index.
	if orderErrs := validateResizeContainerOrder(newPod, oldPod, specPath); len(orderErrs) > 0 {
		return append(errs, orderErrs...)
	}

	munged := newPod.Spec.DeepCopy()
	for i := range oldPod.Spec.Containers {
		path := specPath.Child("containers").Index(i).Child("resources")
		errs = append(errs, validateResourcesNotRemoved(&newPod.Spec.Containers[i].Resources, &oldPod.Spec.Containers[i].Resources, path)...)
		c := &munged.Containers[i]
		keepCPUMemory(c, &oldPod.Spec.Containers[i])
		if !apiequality.Semantic.DeepEqual(*c, oldPod.Spec.Containers[i]) {
			errs = append(errs, field.Forbidden(specPath, "only cpu and memory resources are mutable"))
		}
	}
	for i := range oldPod.Spec.InitContainers {
		old := &oldPod.Spec.InitContainers[i]
		idxPath := specPath.Child("initContainers").Index(i)
		errs = append(errs, validateResourcesNotRemoved(&newPod.Spec.InitContainers[i].Resources, &old.Resources, idxPath.Child("resources"))...)
		c := &munged.InitContainers[i]
		changed := !apiequality.Semantic.DeepEqual(*c, *old)
		keepCPUMemory(c, old)
		if !apiequality.Semantic.DeepEqual(*c, *old) {
			errs = append(errs, field.Forbidden(idxPath, "only cpu and memory resources for init or sidecar containers are mutable"))
		}
		if changed && !isSidecar(c) {
			for _, p := range c.ResizePolicy {
				if p.RestartPolicy == corev1.RestartContainer {
					errs = append(errs, field.Forbidden(idxPath, "non-sidecar init containers with a resize policy of RestartContainer cannot be resized"))
				}
			}
		}
	}
	if !apiequality.Semantic.DeepEqual(newPod.Spec.Volumes, oldPod.Spec.Volumes) {
		errs = append(errs, field.Forbidden(specPath.Child("volumes"), "volumes are immutable on resize when InPlacePodVerticalScalingMemoryBackedVolumes feature gate is disabled"))
	}
	if len(errs) > 0 {
		return errs
	}
	if !apiequality.Semantic.DeepEqual(*munged, oldPod.Spec) {
		errs = append(errs, field.Forbidden(specPath, "only cpu and memory resources are mutable"))
	}
	return errs
}

// nodeSupportsResize is upstream's guard against a node too old to resize:
// it reports resources in the status of a running container. With no running
// container, nothing tells, and resize is allowed.
func nodeSupportsResize(p *corev1.Pod) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil {
			return c.Resources != nil
		}
	}
	return true
}

func hasPodLevelResources(p *corev1.Pod) bool {
	r := p.Spec.Resources
	return r != nil && len(r.Requests)+len(r.Limits) > 0
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// validateResizeContainerOrder: a resize may not add, remove, rename or
// reorder containers.
func validateResizeContainerOrder(newPod, oldPod *corev1.Pod, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, l := range []struct {
		name     string
		new, old []corev1.Container
	}{
		{"containers", newPod.Spec.Containers, oldPod.Spec.Containers},
		{"initContainers", newPod.Spec.InitContainers, oldPod.Spec.InitContainers},
	} {
		if len(l.new) != len(l.old) {
			errs = append(errs, field.Forbidden(specPath.Child(l.name), l.name+" may not be added or removed on resize"))
			continue
		}
		for i := range l.old {
			if l.new[i].Name != l.old[i].Name {
				errs = append(errs, field.Forbidden(specPath.Child(l.name).Index(i).Child("name"), l.name+" may not be renamed or reordered on resize"))
			}
		}
	}
	return errs
}

func validateResourcesNotRemoved(r, old *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if resourcesRemoved(r.Requests, old.Requests) {
		errs = append(errs, field.Forbidden(fldPath.Child("requests"), "resource requests cannot be removed"))
	}
	if resourcesRemoved(r.Limits, old.Limits) {
		errs = append(errs, field.Forbidden(fldPath.Child("limits"), "resource limits cannot be removed"))
	}
	return errs
}

func resourcesRemoved(list, old corev1.ResourceList) bool {
	for name := range old {
		if _, ok := list[name]; !ok {
			return true
		}
	}
	return false
}

// keepCPUMemory puts old's cpu and memory requests and limits in place of c's,
// so that what still differs is what a resize may not change.
func keepCPUMemory(c, old *corev1.Container) {
	c.Resources.Requests = withCPUMemoryOf(c.Resources.Requests, old.Resources.Requests)
	c.Resources.Limits = withCPUMemoryOf(c.Resources.Limits, old.Resources.Limits)
}

func withCPUMemoryOf(list, old corev1.ResourceList) corev1.ResourceList {
	if list == nil && old == nil {
		return nil
	}
	out := corev1.ResourceList{}
	for name, q := range list {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
			out[name] = q
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := old[name]; ok {
			out[name] = q
		}
	}
	return out
}

var supportedResizeResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}
var supportedResizePolicies = []corev1.ResourceResizeRestartPolicy{corev1.NotRequired, corev1.RestartContainer}

// validateResizePolicy: at most one policy per resource, cpu or memory; a pod
// that never restarts its containers cannot have one restarted to resize it.
func validateResizePolicy(policies []corev1.ContainerResizePolicy, fldPath *field.Path, podRestartPolicy corev1.RestartPolicy) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[corev1.ResourceName]()
	for i, p := range policies {
		if seen.Has(p.ResourceName) {
			errs = append(errs, field.Duplicate(fldPath.Index(i), p.ResourceName))
		}
		seen.Insert(p.ResourceName)
		switch p.ResourceName {
		case corev1.ResourceCPU, corev1.ResourceMemory:
		case "":
			errs = append(errs, field.Required(fldPath, ""))
		default:
			errs = append(errs, field.NotSupported(fldPath, p.ResourceName, supportedResizeResources))
		}
		switch p.RestartPolicy {
		case corev1.NotRequired, corev1.RestartContainer:
		case "":
			errs = append(errs, field.Required(fldPath, ""))
		default:
			errs = append(errs, field.NotSupported(fldPath, p.RestartPolicy, supportedResizePolicies))
		}
		if podRestartPolicy == corev1.RestartPolicyNever && p.RestartPolicy != corev1.NotRequired {
			errs = append(errs, field.Invalid(fldPath, p.RestartPolicy, "must be 'NotRequired' when pod `restartPolicy` is 'Never'"))
		}
	}
	return errs
}
