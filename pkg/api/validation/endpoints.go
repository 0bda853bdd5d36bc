package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateEndpoints validates an Endpoints object.
func ValidateEndpoints(e *corev1.Endpoints) field.ErrorList {
	errs := ValidateObjectMeta(&e.ObjectMeta, true, ValidateEndpointsName, metadataPath)
	return append(errs, validateEndpointSubsets(e.Subsets, field.NewPath("subsets"))...)
}

// ValidateEndpointsUpdate validates an update of an Endpoints object.
func ValidateEndpointsUpdate(newE, oldE *corev1.Endpoints) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newE.ObjectMeta, &oldE.ObjectMeta, metadataPath)
	return append(errs, validateEndpointSubsets(newE.Subsets, field.NewPath("subsets"))...)
}

func validateEndpointSubsets(subsets []corev1.EndpointSubset, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range subsets {
		ss := &subsets[i]
		idxPath := fldPath.Index(i)
		// A headless service's endpoints may have no ports, never no addresses.
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(idxPath, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], idxPath.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], idxPath.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			errs = append(errs, validateEndpointPort(&ss.Ports[j], len(ss.Ports) > 1, idxPath.Child("ports").Index(j))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	errs := ValidateIP(a.IP, fldPath.Child("ip"))
	if len(errs) == 0 {
		errs = append(errs, ValidateNonSpecialIP(a.IP, fldPath.Child("ip"))...)
	}
	if a.Hostname != "" {
		errs = append(errs, ValidateDNS1123Label(a.Hostname, fldPath.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, ValidateName(ValidateNodeName, *a.NodeName, fldPath.Child("nodeName"))...)
	}
	return errs
}

func validateEndpointPort(p *corev1.EndpointPort, requireName bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && p.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else if p.Name != "" {
		errs = append(errs, ValidateDNS1123Label(p.Name, fldPath.Child("name"))...)
	}
	errs = append(errs, invalidEach(fldPath.Child("port"), p.Port, portNumMsgs(p.Port))...)
	errs = append(errs, validateProtocol(p.Protocol, fldPath.Child("protocol"))...)
	if p.AppProtocol != nil {
		errs = append(errs, ValidateQualifiedName(*p.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return errs
}
