package resource

import (
	"encoding/json"
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var (
	metadataPath  = field.NewPath("metadata")
	validateName  = apimachineryvalidation.NameIsDNSSubdomain
	immutable     = apimachineryvalidation.ValidateImmutableField
	taintEffects  = []resourcev1.DeviceTaintEffect{resourcev1.DeviceTaintEffectNoExecute, resourcev1.DeviceTaintEffectNoSchedule, resourcev1.DeviceTaintEffectNone}
	tolerationOps = []resourcev1.DeviceTolerationOperator{resourcev1.DeviceTolerationOpEqual, resourcev1.DeviceTolerationOpExists}
)

// Drivers are named as CSI drivers are; devices and requests are DNS labels.
func validateDriverName(name string, fldPath *field.Path) field.ErrorList {
	return validation.ValidateCSIDriverName(name, fldPath)
}

func validateLabelName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return validation.ValidateDNS1123Label(name, fldPath)
}

// validatePoolName: a pool is named by DNS subdomains joined with "/".
func validatePoolName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	if len(name) > resourcev1.PoolNameMaxLength {
		errs = append(errs, field.TooLong(fldPath, "", resourcev1.PoolNameMaxLength))
	}
	for _, part := range strings.Split(name, "/") {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(part) {
			errs = append(errs, field.Invalid(fldPath, part, msg))
		}
	}
	return errs
}

// each checks a list no longer than max (max < 0: any length), each item
// with check. Too long a list is only reported as such, as upstream does
// against abuse.
func each[T any](items []T, max int, fldPath *field.Path, check func(T, *field.Path) field.ErrorList) field.ErrorList {
	if max >= 0 && len(items) > max {
		return field.ErrorList{field.TooMany(fldPath, len(items), max)}
	}
	var errs field.ErrorList
	for i, item := range items {
		errs = append(errs, check(item, fldPath.Index(i))...)
	}
	return errs
}

// set is each, and no two items with one key.
func set[T any, K comparable](items []T, max int, fldPath *field.Path, check func(T, *field.Path) field.ErrorList, key func(T) K) field.ErrorList {
	errs := each(items, max, fldPath, check)
	if max >= 0 && len(items) > max {
		return errs
	}
	seen := sets.New[K]()
	for i, item := range items {
		if k := key(item); seen.Has(k) {
			errs = append(errs, field.Duplicate(fldPath.Index(i), k))
		} else {
			seen.Insert(k)
		}
	}
	return errs
}

func validateSelectors(selectors []resourcev1.DeviceSelector, fldPath *field.Path) field.ErrorList {
	return each(selectors, resourcev1.DeviceSelectorsMaxSize, fldPath, func(s resourcev1.DeviceSelector, p *field.Path) field.ErrorList {
		switch {
		case s.CEL == nil:
			return field.ErrorList{field.Required(p.Child("cel"), "")}
		case s.CEL.Expression == "":
			return field.ErrorList{field.Required(p.Child("cel", "expression"), "")}
		case len(s.CEL.Expression) > resourcev1.CELSelectorExpressionMaxLength:
			return field.ErrorList{field.TooLong(p.Child("cel", "expression"), "", resourcev1.CELSelectorExpressionMaxLength)}
		}
		return nil
	})
}

// validateOpaqueConfig: configuration is handed to a named driver, as a
// JSON object of bounded size.
func validateOpaqueConfig(c resourcev1.DeviceConfiguration, fldPath *field.Path) field.ErrorList {
	if c.Opaque == nil {
		return field.ErrorList{field.Required(fldPath.Child("opaque"), "")}
	}
	p := fldPath.Child("opaque")
	errs := validateDriverName(c.Opaque.Driver, p.Child("driver"))
	return append(errs, validateParameters(c.Opaque.Parameters.Raw, p.Child("parameters"))...)
}

func validateParameters(raw []byte, fldPath *field.Path) field.ErrorList {
	var v any
	switch {
	case len(raw) == 0:
		return field.ErrorList{field.Required(fldPath, "")}
	case len(raw) > resourcev1.OpaqueParametersMaxLength:
		return field.ErrorList{field.TooLong(fldPath, "", resourcev1.OpaqueParametersMaxLength)}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return field.ErrorList{field.Invalid(fldPath, "<value omitted>", "error parsing data as JSON: "+err.Error())}
	}
	switch v.(type) {
	case nil:
		return field.ErrorList{field.Required(fldPath, "")}
	case map[string]any:
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, "<value omitted>", "must be a valid JSON object")}
}

func validateTaint(t resourcev1.DeviceTaint, fldPath *field.Path) field.ErrorList {
	return validateTaintOf(t, true, fldPath)
}

// validateTaintOf checks a taint; an effect that was stored already is not
// checked again (checkEffect false), as upstream ratchets it.
func validateTaintOf(t resourcev1.DeviceTaint, checkEffect bool, fldPath *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabelName(t.Key, fldPath.Child("key"))
	if t.Value != "" {
		errs = append(errs, validateLabelValue(t.Value, fldPath.Child("value"))...)
	}
	switch {
	case !checkEffect:
	case t.Effect == "":
		errs = append(errs, field.Required(fldPath.Child("effect"), ""))
	case !sets.New(taintEffects...).Has(t.Effect):
		errs = append(errs, field.NotSupported(fldPath.Child("effect"), t.Effect, taintEffects))
	}
	return errs
}

func validateToleration(t resourcev1.DeviceToleration, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, fldPath.Child("key"))...)
	}
	switch t.Operator {
	case resourcev1.DeviceTolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(fldPath.Child("value"), t.Value, "must be empty for operator `Exists`"))
		}
	case resourcev1.DeviceTolerationOpEqual:
		errs = append(errs, validateLabelValue(t.Value, fldPath.Child("value"))...)
	case "":
		errs = append(errs, field.Required(fldPath.Child("operator"), ""))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("operator"), t.Operator, tolerationOps))
	}
	if t.Effect != "" && !sets.New(taintEffects...).Has(t.Effect) {
		errs = append(errs, field.NotSupported(fldPath.Child("effect"), t.Effect, taintEffects))
	}
	return errs
}

func validateLabelValue(v string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsValidLabelValue(v) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

// validateQualifiedName checks an attribute or capacity name: a C identifier,
// optionally after a driver-like domain and "/".
func validateQualifiedName(name string, fldPath *field.Path) field.ErrorList {
	domain, id, qualified := strings.Cut(name, "/")
	if !qualified {
		return validateCIdentifier(name, fldPath)
	}
	var errs field.ErrorList
	if domain == "" {
		errs = append(errs, field.Invalid(fldPath, "", "the domain must not be empty"))
	} else {
		errs = append(errs, validateDriverName(domain, fldPath)...)
	}
	if id == "" {
		return append(errs, field.Invalid(fldPath, "", "the name must not be empty"))
	}
	return append(errs, validateCIdentifier(id, fldPath)...)
}

// validateAttributeName: constraints name attributes with their domain.
func validateAttributeName(name string, fldPath *field.Path) field.ErrorList {
	errs := validateQualifiedName(name, fldPath)
	if !strings.Contains(name, "/") {
		errs = append(errs, field.Invalid(fldPath, name, "a fully qualified name must be a domain and a name separated by a slash"))
	}
	return errs
}

func validateCIdentifier(id string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(id) > resourcev1.DeviceMaxIDLength {
		errs = append(errs, field.TooLong(fldPath, "", resourcev1.DeviceMaxIDLength))
	}
	for _, msg := range utilvalidation.IsCIdentifier(id) {
		errs = append(errs, field.Invalid(fldPath, id, msg))
	}
	return errs
}
