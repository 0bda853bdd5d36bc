package validation

import (
	"fmt"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NameFunc validates an object name; prefix is true for a generateName.
type NameFunc = apimachineryvalidation.ValidateNameFunc

// The name rule of each kind. Most names are DNS-1123 subdomains; a namespace
// and a service are DNS-1123 labels, a service's because its name becomes a DNS
// label (it may start with a digit since upstream's RelaxedServiceNameValidation,
// GA and locked on in 1.37).
var (
	ValidatePodName                   NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateReplicationControllerName NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidatePodTemplateName           NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateServiceName               NameFunc = apimachineryvalidation.NameIsDNSLabel
	ValidateNamespaceName             NameFunc = apimachineryvalidation.ValidateNamespaceName
	ValidateNodeName                  NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateConfigMapName             NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateSecretName                NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateServiceAccountName        NameFunc = apimachineryvalidation.ValidateServiceAccountName
	ValidateEndpointsName             NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateEventName                 NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidatePriorityClassName         NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateRuntimeClassName          NameFunc = apimachineryvalidation.NameIsDNSSubdomain
)

// Messages shared by several validators.
const (
	isNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg
	isNotIntegerErrorMsg   = "must be an integer"
	fieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg
	fileModeErrorMsg       = "must be a number between 0 and 0777 (octal), both inclusive"
	immutableWhenSetMsg    = "field is immutable when `immutable` is set"
)

func invalidEach(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	return InvalidEach(fldPath, value, msgs)
}

// InvalidEach turns the messages of an apimachinery check (IsDNS1123Label
// and its kin) into one Invalid error each, at fldPath.
func InvalidEach(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// ValidateDNS1123Label reports a value that is not a DNS-1123 label.
func ValidateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, value, validation.IsDNS1123Label(value))
}

func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, value, validation.IsDNS1123Subdomain(value))
}

// validateDNSSearch reports a DNS search domain that is neither "." nor a
// subdomain whose labels may hold underscores ("_sip._tcp.example.com"), with or
// without its trailing dot: upstream's rule since RelaxedDNSSearchValidation.
func validateDNSSearch(value string, fldPath *field.Path) field.ErrorList {
	if value == "." {
		return nil
	}
	value = strings.TrimSuffix(value, ".")
	return invalidEach(fldPath, value, validation.IsDNS1123SubdomainWithUnderscore(value))
}

// ValidateQualifiedName reports a value that is not a qualified name
// ("prefix/name" or "name", as label keys are).
func ValidateQualifiedName(value string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, value, validation.IsQualifiedName(value))
}

// ValidateName reports a name that breaks a kind's rule, for references such as
// spec.nodeName or spec.serviceAccountName.
func ValidateName(nameFn NameFunc, name string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, name, nameFn(name, false))
}

func validateNonnegative(value int64, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(value, fldPath)
}

func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0o777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

// validatePortNumOrName checks a port given as a number or as a named port.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return invalidEach(fldPath, port.IntVal, validation.IsValidPortNum(int(port.IntVal)))
	case intstr.String:
		return invalidEach(fldPath, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return field.ErrorList{field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type))}
}

// standardFinalizers are the finalizer names that need no domain prefix.
var standardFinalizers = map[string]bool{"kubernetes": true, "orphan": true, "foregroundDeletion": true}

// validateKubeFinalizerName adds the core API's rule to the generic one: a
// finalizer without a domain must be one of the standard names.
func validateKubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	errs := apimachineryvalidation.ValidateFinalizerName(name, fldPath)
	if !strings.Contains(name, "/") && !standardFinalizers[name] {
		errs = append(errs, field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

func portNumMsgs(port int32) []string {
	return validation.IsValidPortNum(int(port))
}
