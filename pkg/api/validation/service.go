package validation

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The node port range of a default kube-apiserver (--service-node-port-range).
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// maxClientIPServiceAffinitySeconds is one day.
const maxClientIPServiceAffinitySeconds = 86400

var (
	supportedServiceTypes = []corev1.ServiceType{
		corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort,
	}
	supportedSessionAffinities = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	supportedIPFamilies        = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	supportedIPFamilyPolicies  = []corev1.IPFamilyPolicy{
		corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack,
	}
	supportedExternalTrafficPolicies = []corev1.ServiceExternalTrafficPolicy{
		corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal,
	}
	supportedInternalTrafficPolicies = []corev1.ServiceInternalTrafficPolicy{
		corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal,
	}
)

// ValidateService validates a service being created.
func ValidateService(s *corev1.Service) field.ErrorList {
	errs := ValidateObjectMeta(&s.ObjectMeta, true, ValidateServiceName, metadataPath)
	return append(errs, validateServiceSpec(s, nil)...)
}

// ValidateServiceUpdate validates an update of a service. Its cluster IPs and IP
// families may gain or lose a secondary entry but their primary never changes,
// short of moving to or from type ExternalName.
func ValidateServiceUpdate(newSvc, oldSvc *corev1.Service) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newSvc.ObjectMeta, &oldSvc.ObjectMeta, metadataPath)
	errs = append(errs, validateClusterIPsUpdate(oldSvc, newSvc)...)
	errs = append(errs, validateIPFamiliesUpdate(oldSvc, newSvc)...)
	return append(errs, validateServiceSpec(newSvc, oldSvc)...)
}

// ValidateServiceStatusUpdate validates a write to services/status.
func ValidateServiceStatusUpdate(newSvc, oldSvc *corev1.Service) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&newSvc.ObjectMeta, &oldSvc.ObjectMeta, metadataPath)
	ingressPath := field.NewPath("status", "loadBalancer", "ingress")
	for i, ing := range newSvc.Status.LoadBalancer.Ingress {
		p := ingressPath.Index(i)
		if ing.IP != "" {
			errs = append(errs, ValidateIP(ing.IP, p.Child("ip"))...)
		}
		if ing.Hostname != "" {
			errs = append(errs, validateDNS1123Subdomain(ing.Hostname, p.Child("hostname"))...)
			if _, err := netip.ParseAddr(ing.Hostname); err == nil {
				errs = append(errs, field.Invalid(p.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

func isHeadless(s *corev1.Service) bool {
	return s != nil && len(s.Spec.ClusterIPs) == 1 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

func validateServiceSpec(s *corev1.Service, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := &s.Spec
	specPath := field.NewPath("spec")
	portsPath := specPath.Child("ports")

	if len(spec.Ports) == 0 && !isHeadless(s) && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(portsPath, ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(s) {
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIPs[0],
				fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if len(spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// A CNAME may end in a dot to mark it fully qualified.
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			errs = append(errs, validateDNS1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
	}

	names := sets.New[string]()
	for i := range spec.Ports {
		errs = append(errs, validateServicePort(&spec.Ports[i], len(spec.Ports) > 1, names, portsPath.Index(i))...)
	}
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}

	switch spec.SessionAffinity {
	case "":
		errs = append(errs, field.Required(specPath.Child("sessionAffinity"), ""))
	case corev1.ServiceAffinityClientIP:
		errs = append(errs, validateClientIPAffinityConfig(spec.SessionAffinityConfig, specPath.Child("sessionAffinityConfig"))...)
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	default:
		errs = append(errs, field.NotSupported(specPath.Child("sessionAffinity"), spec.SessionAffinity, supportedSessionAffinities))
	}

	errs = append(errs, validateClusterIPsRelatedFields(s)...)

	for i, ip := range spec.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if ipErrs := ValidateIP(ip, p); len(ipErrs) != 0 {
			errs = append(errs, ipErrs...)
		} else {
			errs = append(errs, ValidateNonSpecialIP(ip, p)...)
		}
	}

	switch {
	case spec.Type == "":
		errs = append(errs, field.Required(specPath.Child("type"), ""))
	case !contains(supportedServiceTypes, spec.Type):
		errs = append(errs, field.NotSupported(specPath.Child("type"), spec.Type, supportedServiceTypes))
	}

	nodePorts := map[corev1.ServicePort]bool{}
	ports := map[corev1.ServicePort]bool{}
	for i, port := range spec.Ports {
		p := portsPath.Index(i)
		if port.NodePort != 0 {
			switch spec.Type {
			case corev1.ServiceTypeClusterIP:
				errs = append(errs, field.Forbidden(p.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
				if port.NodePort < NodePortMin || port.NodePort > NodePortMax {
					errs = append(errs, field.Invalid(p.Child("nodePort"), port.NodePort,
						fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
				}
			}
			key := corev1.ServicePort{Protocol: port.Protocol, NodePort: port.NodePort}
			if nodePorts[key] {
				errs = append(errs, field.Duplicate(p.Child("nodePort"), port.NodePort))
			}
			nodePorts[key] = true
		}
		key := corev1.ServicePort{Protocol: port.Protocol, Port: port.Port}
		if ports[key] {
			errs = append(errs, field.Duplicate(p, key))
		}
		ports[key] = true
	}

	if len(spec.LoadBalancerSourceRanges) > 0 {
		// Upstream's path, capital L included.
		p := specPath.Child("LoadBalancerSourceRanges")
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, cidr := range spec.LoadBalancerSourceRanges {
			errs = append(errs, validateCIDR(strings.TrimSpace(cidr), p.Index(i))...)
		}
	}
	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		// Upstream reports this one without the "spec." prefix.
		errs = append(errs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), ""))
	}
	errs = append(errs, validateLoadBalancerClass(s, old)...)
	errs = append(errs, validateExternalTrafficPolicy(s)...)
	errs = append(errs, validateInternalTrafficPolicy(s)...)
	return errs
}

func validateServicePort(sp *corev1.ServicePort, requireName bool, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && sp.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else if sp.Name != "" {
		errs = append(errs, ValidateDNS1123Label(sp.Name, fldPath.Child("name"))...)
		if names.Has(sp.Name) {
			errs = append(errs, field.Duplicate(fldPath.Child("name"), sp.Name))
		}
		names.Insert(sp.Name)
	}
	errs = append(errs, invalidEach(fldPath.Child("port"), sp.Port, portNumMsgs(sp.Port))...)
	errs = append(errs, validateProtocol(sp.Protocol, fldPath.Child("protocol"))...)
	errs = append(errs, validatePortNumOrName(sp.TargetPort, fldPath.Child("targetPort"))...)
	if sp.AppProtocol != nil {
		errs = append(errs, ValidateQualifiedName(*sp.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return errs
}

func validateClientIPAffinityConfig(cfg *corev1.SessionAffinityConfig, fldPath *field.Path) field.ErrorList {
	detail := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
	switch {
	case cfg == nil:
		return field.ErrorList{field.Required(fldPath, detail)}
	case cfg.ClientIP == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP"), detail)}
	case cfg.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP", "timeoutSeconds"), detail)}
	}
	if t := *cfg.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPServiceAffinitySeconds {
		return field.ErrorList{field.Invalid(fldPath.Child("clientIP", "timeoutSeconds"), t,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPServiceAffinitySeconds))}
	}
	return nil
}

// validateClusterIPsRelatedFields checks clusterIP, clusterIPs, ipFamilies and
// ipFamilyPolicy against each other.
func validateClusterIPsRelatedFields(s *corev1.Service) field.ErrorList {
	spec := &s.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil // checked above: all must be unset
	}
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	ipsPath := specPath.Child("clusterIPs")
	familiesPath := specPath.Child("ipFamilies")
	policyPath := specPath.Child("ipFamilyPolicy")

	if spec.ClusterIP != "" {
		if len(spec.ClusterIPs) == 0 {
			errs = append(errs, field.Required(ipsPath, ""))
		} else if spec.ClusterIPs[0] != spec.ClusterIP {
			errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(spec.ClusterIPs) != 0 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}

	seen := sets.New[corev1.IPFamily]()
	for i, f := range spec.IPFamilies {
		if !contains(supportedIPFamilies, f) {
			errs = append(errs, field.NotSupported(familiesPath.Index(i), f, supportedIPFamilies))
		}
		if seen.Has(f) {
			errs = append(errs, field.Duplicate(familiesPath.Index(i), f))
		}
		seen.Insert(f)
	}
	if len(spec.IPFamilies) > 2 {
		errs = append(errs, field.Invalid(familiesPath, spec.IPFamilies, "may only hold up to 2 values"))
	}
	if p := spec.IPFamilyPolicy; p != nil {
		if !contains(supportedIPFamilyPolicies, *p) {
			errs = append(errs, field.NotSupported(policyPath, *p, supportedIPFamilyPolicies))
		}
		if *p == corev1.IPFamilyPolicySingleStack {
			if len(spec.ClusterIPs) > 1 {
				errs = append(errs, field.Invalid(policyPath, *p, "must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' are specified"))
			}
			if len(spec.IPFamilies) > 1 {
				errs = append(errs, field.Invalid(policyPath, *p, "must be RequireDualStack or PreferDualStack when multiple IP families are specified"))
			}
		}
	}

	invalidIPs := false
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				invalidIPs = true
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		if ipErrs := ValidateIP(ip, ipsPath.Index(i)); len(ipErrs) > 0 {
			invalidIPs = true
			errs = append(errs, ipErrs...)
		}
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	// Bad entries would make the checks below report nonsense.
	if invalidIPs {
		return errs
	}
	if len(spec.ClusterIPs) > 1 && !isDualStack(spec.ClusterIPs, parseIPAddr) {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
	}
	if !isHeadless(s) {
		for i, ip := range spec.ClusterIPs {
			if i >= len(spec.IPFamilies) {
				break
			}
			if spec.IPFamilies[i] == corev1.IPv4Protocol && IsIPv6(ip) {
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			}
			if spec.IPFamilies[i] == corev1.IPv6Protocol && !IsIPv6(ip) {
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

func validateExternalTrafficPolicy(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := &s.Spec
	p := field.NewPath("spec", "externalTrafficPolicy")
	externallyAccessible := spec.Type == corev1.ServiceTypeLoadBalancer || spec.Type == corev1.ServiceTypeNodePort ||
		(spec.Type == corev1.ServiceTypeClusterIP && len(spec.ExternalIPs) > 0)
	switch {
	case !externallyAccessible && spec.ExternalTrafficPolicy != "":
		errs = append(errs, field.Invalid(p, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case externallyAccessible && spec.ExternalTrafficPolicy == "":
		errs = append(errs, field.Required(p, ""))
	case externallyAccessible && !contains(supportedExternalTrafficPolicies, spec.ExternalTrafficPolicy):
		errs = append(errs, field.NotSupported(p, spec.ExternalTrafficPolicy, supportedExternalTrafficPolicies))
	}
	needsHealthCheck := spec.Type == corev1.ServiceTypeLoadBalancer && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	hc := field.NewPath("spec", "healthCheckNodePort")
	switch {
	case !needsHealthCheck && spec.HealthCheckNodePort != 0:
		errs = append(errs, field.Invalid(hc, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	case needsHealthCheck && spec.HealthCheckNodePort != 0:
		errs = append(errs, invalidEach(hc, spec.HealthCheckNodePort, portNumMsgs(spec.HealthCheckNodePort))...)
	}
	return errs
}

func validateInternalTrafficPolicy(s *corev1.Service) field.ErrorList {
	p := field.NewPath("spec", "internalTrafficPolicy")
	itp := s.Spec.InternalTrafficPolicy
	if itp == nil {
		switch s.Spec.Type {
		case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
			return field.ErrorList{field.Required(p, "")}
		}
		return nil
	}
	if !contains(supportedInternalTrafficPolicies, *itp) {
		return field.ErrorList{field.NotSupported(p, *itp, supportedInternalTrafficPolicies)}
	}
	return nil
}

func validateLoadBalancerClass(s, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "loadBalancerClass")
	class := s.Spec.LoadBalancerClass
	if class != nil {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		errs = append(errs, ValidateQualifiedName(*class, p)...)
	}
	// A load balancer is owned by one controller for its whole life.
	if old != nil && old.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.Type == corev1.ServiceTypeLoadBalancer {
		oldClass := old.Spec.LoadBalancerClass
		if (oldClass == nil) != (class == nil) || (oldClass != nil && *oldClass != *class) {
			errs = append(errs, field.Invalid(p, class, "may not change once set"))
		}
	}
	return errs
}

func validateClusterIPsUpdate(oldSvc, newSvc *corev1.Service) field.ErrorList {
	if newSvc.Spec.Type == corev1.ServiceTypeExternalName || oldSvc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if isHeadless(oldSvc) && isHeadless(newSvc) {
		return nil
	}
	var errs field.ErrorList
	first := field.NewPath("spec", "clusterIPs").Index(0)
	oldIPs, newIPs := oldSvc.Spec.ClusterIPs, newSvc.Spec.ClusterIPs
	switch {
	case len(oldIPs) == len(newIPs):
		for i, ip := range oldIPs {
			if ip != newIPs[i] {
				errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(i), newIPs, "may not change once set"))
			}
		}
	case len(oldIPs) > len(newIPs):
		if len(newIPs) == 0 {
			errs = append(errs, field.Invalid(first, newIPs, "primary clusterIP can not be unset"))
		}
		if len(newIPs) > 0 && newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(first, newIPs, "may not change once set"))
		}
		if len(newIPs) == 1 && (newSvc.Spec.IPFamilyPolicy == nil || *newSvc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			errs = append(errs, field.Invalid(first, newIPs, "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	default:
		if len(oldIPs) > 0 && newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(first, newIPs, "may not change once set"))
		}
	}
	return errs
}

func validateIPFamiliesUpdate(oldSvc, newSvc *corev1.Service) field.ErrorList {
	if newSvc.Spec.Type == corev1.ServiceTypeExternalName || oldSvc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	// A service turning headless or back, or staying headless, may change families.
	if isHeadless(oldSvc) || isHeadless(newSvc) {
		return nil
	}
	var errs field.ErrorList
	first := field.NewPath("spec", "ipFamilies").Index(0)
	oldF, newF := oldSvc.Spec.IPFamilies, newSvc.Spec.IPFamilies
	switch {
	case len(oldF) == len(newF):
		for i := range oldF {
			if oldF[i] != newF[i] {
				errs = append(errs, field.Invalid(first, newF, "may not change once set"))
			}
		}
	case len(oldF) > len(newF):
		if len(newF) == 0 {
			errs = append(errs, field.Invalid(first, newF, "primary ipFamily can not be unset"))
		}
		if len(newF) > 0 && newF[0] != oldF[0] {
			errs = append(errs, field.Invalid(first, newF, "may not change once set"))
		}
		if len(newF) == 1 && (newSvc.Spec.IPFamilyPolicy == nil || *newSvc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), newSvc.Spec.ClusterIPs, "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary ipFamily"))
		}
	default:
		if len(oldF) > 0 && newF[0] != oldF[0] {
			errs = append(errs, field.Invalid(first, newF, "may not change once set"))
		}
	}
	return errs
}
