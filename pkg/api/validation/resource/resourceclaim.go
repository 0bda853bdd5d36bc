package resource

import (
	"fmt"
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

const requestRefMsg = "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'"

var allocationModes = []resourcev1.DeviceAllocationMode{resourcev1.DeviceAllocationModeAll, resourcev1.DeviceAllocationModeExactCount}

// ValidateResourceClaim validates a new ResourceClaim.
func ValidateResourceClaim(c *resourcev1.ResourceClaim) field.ErrorList {
	errs := validation.ValidateObjectMeta(&c.ObjectMeta, true, validateName, metadataPath)
	return append(errs, validateClaimSpec(&c.Spec, field.NewPath("spec"))...)
}

// ValidateResourceClaimUpdate validates an update of a ResourceClaim. Its
// spec is fixed, so only that is checked: what was allocated was allocated
// for it.
func ValidateResourceClaimUpdate(c, old *resourcev1.ResourceClaim) field.ErrorList {
	errs := validation.ValidateObjectMeta(&c.ObjectMeta, true, validateName, metadataPath)
	errs = append(errs, validation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(errs, immutable(c.Spec, old.Spec, field.NewPath("spec"))...)
}

// ValidateResourceClaimStatusUpdate validates a write to a claim's status:
// who it is reserved for (only once allocated, and no newcomers while it is
// being deleted) and its allocation, which may be set or cleared but not
// changed.
func ValidateResourceClaimStatusUpdate(c, old *resourcev1.ResourceClaim) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, metadataPath)
	statusPath := field.NewPath("status")
	reservedPath := statusPath.Child("reservedFor")
	errs = append(errs, set(c.Status.ReservedFor, resourcev1.ResourceClaimReservedForMaxSize, reservedPath, validateConsumer,
		func(r resourcev1.ResourceClaimConsumerReference) types.UID { return r.UID })...)
	if len(c.Status.ReservedFor) > 0 {
		if c.Status.Allocation == nil {
			errs = append(errs, field.Forbidden(reservedPath, "may not be specified when `allocated` is not set"))
		} else if c.DeletionTimestamp != nil && len(sets.New(c.Status.ReservedFor...).Difference(sets.New(old.Status.ReservedFor...))) > 0 {
			errs = append(errs, field.Forbidden(reservedPath, "new entries may not be added while `deallocationRequested` or `deletionTimestamp` are set"))
		}
	}
	allocPath := statusPath.Child("allocation")
	switch {
	case old.Status.Allocation != nil && c.Status.Allocation != nil:
		errs = append(errs, immutable(c.Status.Allocation, old.Status.Allocation, allocPath)...)
	case c.Status.Allocation != nil:
		errs = append(errs, validateAllocation(c.Status.Allocation, requestNames(&c.Spec.Devices), allocPath)...)
	}
	return errs
}

// ValidateResourceClaimTemplate validates a ResourceClaimTemplate: the
// metadata and spec of the claims it stamps out.
func ValidateResourceClaimTemplate(t *resourcev1.ResourceClaimTemplate) field.ErrorList {
	errs := validation.ValidateObjectMeta(&t.ObjectMeta, true, validateName, metadataPath)
	specPath := field.NewPath("spec")
	errs = append(errs, metav1validation.ValidateLabels(t.Spec.Labels, specPath.Child("metadata", "labels"))...)
	errs = append(errs, validateTemplateAnnotations(t.Spec.Annotations, specPath.Child("metadata", "annotations"))...)
	return append(errs, validateClaimSpec(&t.Spec.Spec, specPath.Child("spec"))...)
}

// ValidateResourceClaimTemplateUpdate validates an update of a template,
// whose spec is fixed as its claims' is.
func ValidateResourceClaimTemplateUpdate(t, old *resourcev1.ResourceClaimTemplate) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&t.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(errs, immutable(t.Spec, old.Spec, field.NewPath("spec"))...)
}

func validateTemplateAnnotations(a map[string]string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k := range a {
		errs = append(errs, metav1validation.ValidateLabelName(strings.ToLower(k), fldPath)...)
	}
	return errs
}

func validateClaimSpec(s *resourcev1.ResourceClaimSpec, fldPath *field.Path) field.ErrorList {
	devicesPath := fldPath.Child("devices")
	names := requestNames(&s.Devices)
	errs := set(s.Devices.Requests, resourcev1.DeviceRequestsMaxSize, devicesPath.Child("requests"), validateRequest,
		func(r resourcev1.DeviceRequest) string { return r.Name })
	errs = append(errs, each(s.Devices.Constraints, resourcev1.DeviceConstraintsMaxSize, devicesPath.Child("constraints"),
		func(c resourcev1.DeviceConstraint, p *field.Path) field.ErrorList {
			errs := validateRequestRefs(c.Requests, names, p.Child("requests"))
			switch {
			case c.MatchAttribute != nil:
				errs = append(errs, validateAttributeName(string(*c.MatchAttribute), p.Child("matchAttribute"))...)
			case c.DistinctAttribute != nil:
				errs = append(errs, validateAttributeName(string(*c.DistinctAttribute), p.Child("distinctAttribute"))...)
			default:
				errs = append(errs, field.Required(p, `exactly one of "matchAttribute" or "distinctAttribute" is required, but multiple fields are set`))
			}
			return errs
		})...)
	return append(errs, each(s.Devices.Config, resourcev1.DeviceConfigMaxSize, devicesPath.Child("config"),
		func(c resourcev1.DeviceClaimConfiguration, p *field.Path) field.ErrorList {
			return append(validateRequestRefs(c.Requests, names, p.Child("requests")), validateOpaqueConfig(c.DeviceConfiguration, p)...)
		})...)
}

func validateRequest(r resourcev1.DeviceRequest, fldPath *field.Path) field.ErrorList {
	errs := validateLabelName(r.Name, fldPath.Child("name"))
	switch {
	case r.Exactly == nil && len(r.FirstAvailable) == 0:
		errs = append(errs, field.Required(fldPath, "exactly one of `exactly` or `firstAvailable` is required"))
	case r.Exactly != nil && len(r.FirstAvailable) > 0:
		errs = append(errs, field.Invalid(fldPath, nil, "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set"))
	case r.Exactly != nil:
		e := r.Exactly
		errs = append(errs, validateDeviceChoice(fldPath.Child("exactly"), e.DeviceClassName, e.Selectors, e.AllocationMode, e.Count, e.Tolerations)...)
	default:
		errs = append(errs, set(r.FirstAvailable, resourcev1.FirstAvailableDeviceRequestMaxSize, fldPath.Child("firstAvailable"),
			func(s resourcev1.DeviceSubRequest, p *field.Path) field.ErrorList {
				errs := validateLabelName(s.Name, p.Child("name"))
				return append(errs, validateDeviceChoice(p, s.DeviceClassName, s.Selectors, s.AllocationMode, s.Count, s.Tolerations)...)
			}, func(s resourcev1.DeviceSubRequest) string { return s.Name })...)
	}
	return errs
}

// validateDeviceChoice checks what an exact request and each alternative of
// a firstAvailable request say alike: which class, which devices, how many.
func validateDeviceChoice(fldPath *field.Path, class string, selectors []resourcev1.DeviceSelector,
	mode resourcev1.DeviceAllocationMode, count int64, tolerations []resourcev1.DeviceToleration) field.ErrorList {
	var errs field.ErrorList
	if class == "" {
		errs = append(errs, field.Required(fldPath.Child("deviceClassName"), ""))
	} else {
		errs = append(errs, validation.ValidateName(validateName, class, fldPath.Child("deviceClassName"))...)
	}
	errs = append(errs, validateSelectors(selectors, fldPath.Child("selectors"))...)
	switch mode {
	case resourcev1.DeviceAllocationModeAll:
		if count != 0 {
			errs = append(errs, field.Invalid(fldPath.Child("count"), count, fmt.Sprintf("must not be specified when allocationMode is '%s'", mode)))
		}
	case resourcev1.DeviceAllocationModeExactCount:
		if count <= 0 {
			errs = append(errs, field.Invalid(fldPath.Child("count"), count, "must be greater than zero"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("allocationMode"), mode, allocationModes))
	}
	return append(errs, each(tolerations, resourcev1.DeviceTolerationsMaxLength, fldPath.Child("tolerations"), validateToleration)...)
}

// requestNames maps each request to its alternatives' names (nil when it
// has none), which is what "request" or "request/alternative" may name.
func requestNames(c *resourcev1.DeviceClaim) map[string]sets.Set[string] {
	names := map[string]sets.Set[string]{}
	for _, r := range c.Requests {
		names[r.Name] = nil
		for _, sub := range r.FirstAvailable {
			if names[r.Name] == nil {
				names[r.Name] = sets.New[string]()
			}
			names[r.Name].Insert(sub.Name)
		}
	}
	return names
}

func validateRequestRefs(refs []string, names map[string]sets.Set[string], fldPath *field.Path) field.ErrorList {
	return set(refs, resourcev1.DeviceRequestsMaxSize, fldPath, func(ref string, p *field.Path) field.ErrorList {
		return validateRequestRef(ref, names, p)
	}, func(ref string) string { return ref })
}

func validateRequestRef(ref string, names map[string]sets.Set[string], fldPath *field.Path) field.ErrorList {
	parts := strings.Split(ref, "/")
	if len(parts) > 2 {
		return field.ErrorList{field.Invalid(fldPath, ref, requestRefMsg)}
	}
	var errs field.ErrorList
	for _, part := range parts {
		errs = append(errs, validation.ValidateDNS1123Label(part, fldPath)...)
	}
	subs, ok := names[parts[0]]
	if !ok || (len(parts) == 2 && !subs.Has(parts[1])) {
		errs = append(errs, field.Invalid(fldPath, ref, requestRefMsg))
	}
	return errs
}

func validateConsumer(r resourcev1.ResourceClaimConsumerReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, value string }{{"resource", r.Resource}, {"name", r.Name}, {"uid", string(r.UID)}} {
		if f.value == "" {
			errs = append(errs, field.Required(fldPath.Child(f.name), ""))
		}
	}
	return errs
}

// validateAllocation checks a new allocation: each result names a request
// of the claim and a device of a driver's pool; configuration says where it
// came from.
func validateAllocation(a *resourcev1.AllocationResult, names map[string]sets.Set[string], fldPath *field.Path) field.ErrorList {
	devicesPath := fldPath.Child("devices")
	errs := each(a.Devices.Results, resourcev1.AllocationResultsMaxSize, devicesPath.Child("results"),
		func(r resourcev1.DeviceRequestAllocationResult, p *field.Path) field.ErrorList {
			errs := validateRequestRef(r.Request, names, p.Child("request"))
			errs = append(errs, validateDriverName(r.Driver, p.Child("driver"))...)
			errs = append(errs, validatePoolName(r.Pool, p.Child("pool"))...)
			errs = append(errs, validateLabelName(r.Device, p.Child("device"))...)
			return append(errs, each(r.Tolerations, -1, p.Child("tolerations"), validateToleration)...)
		})
	errs = append(errs, each(a.Devices.Config, 2*resourcev1.DeviceConfigMaxSize, devicesPath.Child("config"),
		func(c resourcev1.DeviceAllocationConfiguration, p *field.Path) field.ErrorList {
			var errs field.ErrorList
			sources := []resourcev1.AllocationConfigSource{resourcev1.AllocationConfigSourceClaim, resourcev1.AllocationConfigSourceClass}
			switch c.Source {
			case resourcev1.AllocationConfigSourceClaim, resourcev1.AllocationConfigSourceClass:
			case "":
				errs = append(errs, field.Required(p.Child("source"), ""))
			default:
				errs = append(errs, field.NotSupported(p.Child("source"), c.Source, sources))
			}
			errs = append(errs, validateRequestRefs(c.Requests, names, p.Child("requests"))...)
			return append(errs, validateOpaqueConfig(c.DeviceConfiguration, p)...)
		})...)
	if a.NodeSelector != nil {
		errs = append(errs, validation.ValidateNodeSelector(a.NodeSelector, fldPath.Child("nodeSelector"))...)
	}
	return errs
}
