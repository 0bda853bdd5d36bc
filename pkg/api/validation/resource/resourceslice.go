package resource

import (
	"fmt"
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

const exactlyOneNodeChoice = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"

// ValidateResourceSlice validates a ResourceSlice: one slice of a driver's
// pool of devices, and which nodes can reach them.
func ValidateResourceSlice(s *resourcev1.ResourceSlice) field.ErrorList {
	errs := validation.ValidateObjectMeta(&s.ObjectMeta, false, validateName, metadataPath)
	return append(errs, validateResourceSliceSpec(&s.Spec, field.NewPath("spec"))...)
}

// ValidateResourceSliceUpdate validates an update of a ResourceSlice. Its
// driver, pool and node say which slice it is, so they are fixed.
func ValidateResourceSliceUpdate(s, old *resourcev1.ResourceSlice) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, metadataPath)
	specPath := field.NewPath("spec")
	errs = append(errs, validateResourceSliceSpec(&s.Spec, specPath)...)
	errs = append(errs, immutable(s.Spec.Pool.Name, old.Spec.Pool.Name, specPath.Child("pool", "name"))...)
	errs = append(errs, immutable(s.Spec.Driver, old.Spec.Driver, specPath.Child("driver"))...)
	return append(errs, immutable(s.Spec.NodeName, old.Spec.NodeName, specPath.Child("nodeName"))...)
}

func validateResourceSliceSpec(s *resourcev1.ResourceSliceSpec, fldPath *field.Path) field.ErrorList {
	errs := validateDriverName(s.Driver, fldPath.Child("driver"))
	poolPath := fldPath.Child("pool")
	errs = append(errs, validatePoolName(s.Pool.Name, poolPath.Child("name"))...)
	if s.Pool.ResourceSliceCount <= 0 {
		errs = append(errs, field.Invalid(poolPath.Child("resourceSliceCount"), s.Pool.ResourceSliceCount, "must be greater than zero"))
	}
	if s.Pool.Generation < 0 {
		errs = append(errs, field.Invalid(poolPath.Child("generation"), s.Pool.Generation, "must be greater than or equal to zero"))
	}
	errs = append(errs, validateNodeChoice(s, fldPath)...)
	if s.SharedCounters != nil && s.Devices != nil {
		errs = append(errs, field.Invalid(fldPath, "", "only one of `sharedCounters` or `devices` is allowed"))
	}
	maxDevices := resourcev1.ResourceSliceMaxDevices
	for _, d := range s.Devices {
		if len(d.Taints) > 0 || len(d.ConsumesCounters) > 0 {
			maxDevices = resourcev1.ResourceSliceMaxDevicesWithAdvancedFeatures
		}
	}
	errs = append(errs, set(s.Devices, maxDevices, fldPath.Child("devices"), validateDevice,
		func(d resourcev1.Device) string { return d.Name })...)
	return append(errs, set(s.SharedCounters, resourcev1.ResourceSliceMaxCounterSets, fldPath.Child("sharedCounters"),
		func(c resourcev1.CounterSet, p *field.Path) field.ErrorList {
			return validateLabelName(c.Name, p.Child("name"))
		},
		func(c resourcev1.CounterSet) string { return c.Name })...)
}

// validateNodeChoice: a slice says which nodes reach its devices in exactly
// one way.
func validateNodeChoice(s *resourcev1.ResourceSliceSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	var set []string
	if n := s.NodeName; n != nil {
		if *n == "" {
			errs = append(errs, field.Invalid(fldPath.Child("nodeName"), *n, "must be either unset or set to a non-empty string"))
		} else {
			set = append(set, "`nodeName`")
			errs = append(errs, validation.ValidateName(validation.ValidateNodeName, *n, fldPath.Child("nodeName"))...)
		}
	}
	if sel := s.NodeSelector; sel != nil {
		set = append(set, "`nodeSelector`")
		p := fldPath.Child("nodeSelector")
		errs = append(errs, validation.ValidateNodeSelector(sel, p)...)
		if len(sel.NodeSelectorTerms) != 1 {
			// One term keeps merging the selectors of several slices simple.
			errs = append(errs, field.Invalid(p.Child("nodeSelectorTerms"), sel.NodeSelectorTerms, "must have exactly one node selector term"))
		}
	}
	for _, b := range []struct {
		name string
		v    *bool
	}{{"allNodes", s.AllNodes}, {"perDeviceNodeSelection", s.PerDeviceNodeSelection}} {
		switch {
		case b.v == nil:
		case *b.v:
			set = append(set, "`"+b.name+"`")
		default:
			errs = append(errs, field.Invalid(fldPath.Child(b.name), false, "must be either unset or set to true"))
		}
	}
	switch len(set) {
	case 0:
		errs = append(errs, field.Required(fldPath, exactlyOneNodeChoice))
	case 1:
	default:
		errs = append(errs, field.Invalid(fldPath, fmt.Sprintf("{%s}", strings.Join(set, ", ")), exactlyOneNodeChoice+", but multiple fields are set"))
	}
	return errs
}

func validateDevice(d resourcev1.Device, fldPath *field.Path) field.ErrorList {
	errs := validateLabelName(d.Name, fldPath.Child("name"))
	if n := len(d.Attributes) + len(d.Capacity); n > resourcev1.ResourceSliceMaxAttributesAndCapacitiesPerDevice {
		errs = append(errs, field.Invalid(fldPath, n, fmt.Sprintf("the total number of attributes and capacities must not exceed %d",
			resourcev1.ResourceSliceMaxAttributesAndCapacitiesPerDevice)))
	}
	for name := range d.Attributes {
		errs = append(errs, validateQualifiedName(string(name), fldPath.Child("attributes").Key(string(name)))...)
	}
	for name := range d.Capacity {
		errs = append(errs, validateQualifiedName(string(name), fldPath.Child("capacity").Key(string(name)))...)
	}
	return append(errs, each(d.Taints, resourcev1.DeviceTaintsMaxLength, fldPath.Child("taints"), validateTaint)...)
}
