package discovery

import (
	"slices"

	discoveryv1 "k8s.io/api/discovery/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateEndpointSliceName is the name rule of an EndpointSlice.
var ValidateEndpointSliceName validation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain

var metadataPath = field.NewPath("metadata")

// Upstream's bounds on an EndpointSlice, which keep each one small to watch.
const (
	maxSliceEndpoints      = 1000
	maxSliceAddresses      = 100
	maxSlicePorts          = 20000
	maxSliceTopologyLabels = 16
)

var supportedAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

// ValidateEndpointSlice validates an EndpointSlice being created.
func ValidateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validation.ValidateObjectMeta(&s.ObjectMeta, true, ValidateEndpointSliceName, metadataPath)
	return append(errs, validateEndpointSliceBody(s)...)
}

// ValidateEndpointSliceUpdate validates an update of an EndpointSlice; its
// address type never changes.
func ValidateEndpointSliceUpdate(newS, oldS *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&newS.ObjectMeta, &oldS.ObjectMeta, metadataPath)
	errs = append(errs, validateEndpointSliceBody(newS)...)
	return append(errs, apimachineryvalidation.ValidateImmutableField(newS.AddressType, oldS.AddressType, field.NewPath("addressType"))...)
}

func validateEndpointSliceBody(s *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	typePath := field.NewPath("addressType")
	switch {
	case s.AddressType == "":
		errs = append(errs, field.Required(typePath, ""))
	case !slices.Contains(supportedAddressTypes, s.AddressType):
		errs = append(errs, field.NotSupported(typePath, s.AddressType, supportedAddressTypes))
	}
	errs = append(errs, validateSliceEndpoints(s.Endpoints, s.AddressType, field.NewPath("endpoints"))...)
	return append(errs, validateSlicePorts(s.Ports, field.NewPath("ports"))...)
}

func validateSliceEndpoints(endpoints []discoveryv1.Endpoint, addressType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > maxSliceEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), maxSliceEndpoints)}
	}
	var errs field.ErrorList
	for i, ep := range endpoints {
		idxPath := fldPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(addrPath, "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxSliceAddresses {
			errs = append(errs, field.TooMany(addrPath, len(ep.Addresses), maxSliceAddresses))
		}
		for j, a := range ep.Addresses {
			p := addrPath.Index(j)
			switch addressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				if ipErrs := validation.ValidateIP(a, p); len(ipErrs) > 0 {
					errs = append(errs, ipErrs...)
					continue
				}
				if addressType == discoveryv1.AddressTypeIPv4 && validation.IsIPv6(a) {
					errs = append(errs, field.Invalid(p, a, "must be an IPv4 address"))
				}
				if addressType == discoveryv1.AddressTypeIPv6 && !validation.IsIPv6(a) {
					errs = append(errs, field.Invalid(p, a, "must be an IPv6 address"))
				}
				errs = append(errs, validation.ValidateNonSpecialIP(a, p)...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, utilvalidation.IsFullyQualifiedDomainName(p, a)...)
			}
		}
		if ep.NodeName != nil {
			errs = append(errs, validation.ValidateName(validation.ValidateNodeName, *ep.NodeName, idxPath.Child("nodeName"))...)
		}
		topoPath := idxPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxSliceTopologyLabels {
			errs = append(errs, field.TooMany(topoPath, len(ep.DeprecatedTopology), maxSliceTopologyLabels))
		}
		errs = append(errs, metav1validation.ValidateLabels(ep.DeprecatedTopology, topoPath)...)
		if ep.Hostname != nil {
			errs = append(errs, validation.ValidateDNS1123Label(*ep.Hostname, idxPath.Child("hostname"))...)
		}
	}
	return errs
}

func validateSlicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxSlicePorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxSlicePorts)}
	}
	var errs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name != "" {
			errs = append(errs, validation.ValidateDNS1123Label(name, idxPath.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(idxPath.Child("name"), name))
		}
		names.Insert(name)
		if p.Protocol == nil {
			errs = append(errs, field.Required(idxPath.Child("protocol"), ""))
		} else if !slices.Contains(validation.SupportedPortProtocols, *p.Protocol) {
			errs = append(errs, field.NotSupported(idxPath.Child("protocol"), *p.Protocol, validation.SupportedPortProtocols))
		}
		if p.AppProtocol != nil {
			errs = append(errs, validation.ValidateQualifiedName(*p.AppProtocol, idxPath.Child("appProtocol"))...)
		}
	}
	return errs
}
