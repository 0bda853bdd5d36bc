package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateLimitRangeName is upstream's rule for a LimitRange's name.
var ValidateLimitRangeName NameFunc = apimachineryvalidation.NameIsDNSSubdomain

// ValidateLimitRange validates a LimitRange, after defaulting, as upstream
// does on create and on update alike: one item per type; Pod and Container
// items name container resources and other types any standard or qualified
// resource; a Pod item has no defaults; a PersistentVolumeClaim item bounds
// storage; and for each resource min <= defaultRequest <= default <= max, a
// ratio of at least 1 and at most max/min, and a default request equal to the
// default limit for what cannot be overcommitted.
func ValidateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	errs := ValidateObjectMeta(&lr.ObjectMeta, true, ValidateLimitRangeName, metadataPath)
	limitsPath := field.NewPath("spec", "limits")
	seen := map[corev1.LimitType]bool{}
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		p := limitsPath.Index(i)
		errs = append(errs, validateLimitType(item.Type, p.Child("type"))...)
		if seen[item.Type] {
			errs = append(errs, field.Duplicate(p.Child("type"), item.Type))
		}
		seen[item.Type] = true

		checkNames := func(list corev1.ResourceList, child string) {
			for name := range list {
				errs = append(errs, validateLimitRangeResourceName(item.Type, name, p.Child(child).Key(string(name)))...)
			}
		}
		checkNames(item.Max, "max")
		checkNames(item.Min, "min")
		defaults, defaultRequests := item.Default, item.DefaultRequest
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
			// Upstream neither checks nor compares a Pod item's defaults further.
			defaults, defaultRequests = nil, nil
		} else {
			checkNames(item.Default, "default")
			checkNames(item.DefaultRequest, "defaultRequest")
		}
		if item.Type == corev1.LimitTypePersistentVolumeClaim {
			_, hasMin := item.Min[corev1.ResourceStorage]
			_, hasMax := item.Max[corev1.ResourceStorage]
			if !hasMin && !hasMax {
				errs = append(errs, field.Required(p.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		checkNames(item.MaxLimitRequestRatio, "maxLimitRequestRatio")

		names := map[corev1.ResourceName]bool{}
		for _, l := range []corev1.ResourceList{item.Max, item.Min, defaults, defaultRequests, item.MaxLimitRequestRatio} {
			for name := range l {
				names[name] = true
			}
		}
		for name := range names {
			errs = append(errs, validateLimitRangeBounds(name, item.Min, item.Max, defaults, defaultRequests, item.MaxLimitRequestRatio, p)...)
		}
	}
	return errs
}

// validateLimitRangeBounds checks how one resource's bounds relate, with
// upstream's paths and messages.
func validateLimitRangeBounds(name corev1.ResourceName, minL, maxL, defaults, defaultRequests, ratios corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	k := string(name)
	minQ, hasMin := minL[name]
	maxQ, hasMax := maxL[name]
	defQ, hasDef := defaults[name]
	reqQ, hasReq := defaultRequests[name]
	ratio, hasRatio := ratios[name]
	if hasMin && hasMax && minQ.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("min").Key(k), minQ, fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
	}
	if hasReq && hasMin && minQ.Cmp(reqQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), reqQ.String())))
	}
	if hasReq && hasMax && reqQ.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("default request value %s is greater than max value %s", reqQ.String(), maxQ.String())))
	}
	if hasReq && hasDef && reqQ.Cmp(defQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("default request value %s is greater than default limit value %s", reqQ.String(), defQ.String())))
	}
	// Upstream reports the min and max, not the default, as these values.
	if hasDef && hasMin && minQ.Cmp(defQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("default").Key(k), minQ, fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), defQ.String())))
	}
	if hasDef && hasMax && defQ.Cmp(maxQ) > 0 {
		errs = append(errs, field.Invalid(p.Child("default").Key(k), maxQ, fmt.Sprintf("default value %s is greater than max value %s", defQ.String(), maxQ.String())))
	}
	if hasRatio && ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
		errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is less than 1", ratio.String())))
	}
	if hasRatio && hasMin && hasMax {
		ratioValue, minValue, maxValue := float64(ratio.Value()), minQ.Value(), maxQ.Value()
		if ratio.Value() < resource.MaxMilliValue && minValue < resource.MaxMilliValue && maxValue < resource.MaxMilliValue {
			ratioValue, minValue, maxValue = float64(ratio.MilliValue())/1000, minQ.MilliValue(), maxQ.MilliValue()
		}
		if limit := float64(maxValue) / float64(minValue); ratioValue > limit {
			errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(k), ratio, fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limit)))
		}
	}
	if !isOvercommitAllowed(name) && hasDef && hasReq && defQ.Cmp(reqQ) != 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(k), reqQ, fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", defQ.String(), reqQ.String(), k)))
	}
	return errs
}

var standardLimitTypes = map[corev1.LimitType]bool{
	corev1.LimitTypePod: true, corev1.LimitTypeContainer: true, corev1.LimitTypePersistentVolumeClaim: true,
}

func validateLimitType(t corev1.LimitType, fldPath *field.Path) field.ErrorList {
	if errs := invalidEach(fldPath, t, utilvalidation.IsQualifiedName(string(t))); len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(t), "/") && !standardLimitTypes[t] {
		return field.ErrorList{field.Invalid(fldPath, t, "must be a standard limit type or fully qualified")}
	}
	return nil
}

// validateLimitRangeResourceName: Pod and Container items bound what
// containers request; other types (PersistentVolumeClaim) any resource.
func validateLimitRangeResourceName(t corev1.LimitType, name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	if t == corev1.LimitTypePod || t == corev1.LimitTypeContainer {
		return validateContainerResourceName(name, fldPath)
	}
	errs := validateResourceName(name, fldPath)
	if len(errs) == 0 && !strings.Contains(string(name), "/") && !isStandardResourceName(name) {
		errs = append(errs, field.Invalid(fldPath, name, "must be a standard resource type or fully qualified"))
	}
	return errs
}

var standardResourceNames = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true, corev1.ResourceEphemeralStorage: true,
	corev1.ResourceRequestsCPU: true, corev1.ResourceRequestsMemory: true, corev1.ResourceRequestsEphemeralStorage: true,
	corev1.ResourceLimitsCPU: true, corev1.ResourceLimitsMemory: true, corev1.ResourceLimitsEphemeralStorage: true,
	corev1.ResourcePods: true, corev1.ResourceQuotas: true, corev1.ResourceServices: true,
	corev1.ResourceReplicationControllers: true, corev1.ResourceSecrets: true, corev1.ResourceConfigMaps: true,
	corev1.ResourcePersistentVolumeClaims: true, corev1.ResourceStorage: true, corev1.ResourceRequestsStorage: true,
	corev1.ResourceServicesNodePorts: true, corev1.ResourceServicesLoadBalancers: true,
}

func isStandardResourceName(name corev1.ResourceName) bool {
	return standardResourceNames[name] || strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) ||
		strings.HasPrefix(string(name), corev1.ResourceRequestsHugePagesPrefix)
}
