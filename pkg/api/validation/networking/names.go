package networking

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var metadataPath = field.NewPath("metadata")

// The name rule of each kind; an IPAddress is named by the address it holds,
// written canonically, so that one address is one object.
var (
	ValidateIngressName       validation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateIngressClassName  validation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateNetworkPolicyName validation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain
	ValidateServiceCIDRName   validation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain
)

// ValidateIPAddressName reports a name that is not an IP address in
// canonical form. IPAddresses have no generated names.
func ValidateIPAddressName(name string, _ bool) []string {
	var msgs []string
	for _, err := range utilvalidation.IsValidIP(&field.Path{}, name) {
		msgs = append(msgs, err.Detail)
	}
	return msgs
}

func invalidEach(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	return validation.InvalidEach(fldPath, value, msgs)
}

// validateSegmentName checks a required name that ends up in a URL path
// (a referenced kind, resource or object name).
func validateSegmentName(value string, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return invalidEach(fldPath, value, content.IsPathSegmentName(value))
}

func validateSubdomain(value string, fldPath *field.Path) field.ErrorList {
	return invalidEach(fldPath, value, utilvalidation.IsDNS1123Subdomain(value))
}

// validateHost checks a host an Ingress matches: a DNS subdomain, or one with
// a leading "*." wildcard label.
func validateHost(host string, fldPath *field.Path) field.ErrorList {
	if strings.Contains(host, "*") {
		return invalidEach(fldPath, host, utilvalidation.IsWildcardDNS1123Subdomain(host))
	}
	return validateSubdomain(host, fldPath)
}
