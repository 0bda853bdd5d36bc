package networking

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// annotationIngressClass is the class an Ingress named before
// spec.ingressClassName existed.
const annotationIngressClass = "kubernetes.io/ingress.class"

var (
	// supportedPathTypes is sorted, as upstream lists them in its message.
	supportedPathTypes = []string{string(networkingv1.PathTypeExact), string(networkingv1.PathTypeImplementationSpecific),
		string(networkingv1.PathTypePrefix)}
	// A path of type Exact or Prefix is matched segment by segment; these would
	// let two spellings of one path route differently.
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

// ingressOptions relax rules that an object stored before they were
// tightened may still break, so that it can still be updated.
type ingressOptions struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

// ValidateIngress validates a new Ingress: a default backend or rules, each
// rule's host and HTTP paths, each backend a Service or a resource, TLS
// hosts and secrets, and a class annotation that agrees with
// spec.ingressClassName.
func ValidateIngress(ing *networkingv1.Ingress) field.ErrorList {
	errs := validation.ValidateObjectMeta(&ing.ObjectMeta, true, ValidateIngressName, metadataPath)
	errs = append(errs, validateIngressSpec(&ing.Spec, field.NewPath("spec"), ingressOptions{})...)
	if class, ok := ing.Annotations[annotationIngressClass]; ok && ing.Spec.IngressClassName != nil && class != *ing.Spec.IngressClassName {
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), class,
			"must match `ingressClassName` when both are specified"))
	}
	return errs
}

// ValidateIngressUpdate validates an update of an Ingress. The spec is
// checked as on create, except what the stored object already broke.
func ValidateIngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, metadataPath)
	errs = append(errs, validation.ValidateObjectMeta(&ing.ObjectMeta, true, ValidateIngressName, metadataPath)...)
	opts := ingressOptions{allowInvalidSecretName: hasInvalidSecretName(old), allowInvalidWildcardHostRule: hasInvalidWildcardRule(old)}
	return append(errs, validateIngressSpec(&ing.Spec, field.NewPath("spec"), opts)...)
}

// ValidateIngressStatusUpdate validates a write to an Ingress's status: the
// load balancer's IPs and hostnames. An IP already stored may stay in a
// form strict parsing now refuses.
func ValidateIngressStatusUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, metadataPath)
	var oldIPs []string
	for _, in := range old.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			oldIPs = append(oldIPs, in.IP)
		}
	}
	ingressPath := field.NewPath("status", "loadBalancer", "ingress")
	for i, in := range ing.Status.LoadBalancer.Ingress {
		p := ingressPath.Index(i)
		if in.IP != "" {
			errs = append(errs, utilvalidation.IsValidIPForLegacyField(p.Child("ip"), in.IP, true, oldIPs)...)
		}
		if in.Hostname != "" {
			errs = append(errs, validateSubdomain(in.Hostname, p.Child("hostname"))...)
			if netutils.ParseIPSloppy(in.Hostname) != nil {
				errs = append(errs, field.Invalid(p.Child("hostname"), in.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

func validateIngressSpec(spec *networkingv1.IngressSpec, fldPath *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(fldPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	}
	for i := range spec.Rules {
		errs = append(errs, validateRule(&spec.Rules[i], fldPath.Child("rules").Index(i), opts)...)
	}
	for i, tls := range spec.TLS {
		tlsPath := fldPath.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			errs = append(errs, validateHost(host, tlsPath.Child("hosts").Index(j))...)
		}
		if tls.SecretName != "" && !opts.allowInvalidSecretName {
			errs = append(errs, invalidEach(tlsPath.Child("secretName"), tls.SecretName, validation.ValidateSecretName(tls.SecretName, false))...)
		}
	}
	if spec.IngressClassName != nil {
		errs = append(errs, invalidEach(fldPath.Child("ingressClassName"), *spec.IngressClassName,
			ValidateIngressClassName(*spec.IngressClassName, false))...)
	}
	return errs
}

func validateRule(rule *networkingv1.IngressRule, fldPath *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	if rule.Host != "" {
		if netutils.ParseIPSloppy(rule.Host) != nil {
			errs = append(errs, field.Invalid(fldPath.Child("host"), rule.Host, "must be a DNS name, not an IP address"))
		}
		errs = append(errs, validateHost(rule.Host, fldPath.Child("host"))...)
		if strings.Contains(rule.Host, "*") && opts.allowInvalidWildcardHostRule {
			return errs
		}
	}
	return append(errs, validateRuleValue(rule, fldPath)...)
}

func validateRuleValue(rule *networkingv1.IngressRule, fldPath *field.Path) field.ErrorList {
	if rule.HTTP == nil {
		return nil
	}
	var errs field.ErrorList
	pathsPath := fldPath.Child("http", "paths")
	if len(rule.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(pathsPath, ""))
	}
	for i := range rule.HTTP.Paths {
		errs = append(errs, validatePath(&rule.HTTP.Paths[i], pathsPath.Index(i))...)
	}
	return errs
}

func validatePath(p *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if p.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	pathPath := fldPath.Child("path")
	switch *p.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(pathPath, p.Path, "must be an absolute path"))
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(p.Path, seq) {
				errs = append(errs, field.Invalid(pathPath, p.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suffix := range invalidPathSuffixes {
			if strings.HasSuffix(p.Path, suffix) {
				errs = append(errs, field.Invalid(pathPath, p.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(pathPath, p.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("pathType"), *p.PathType, supportedPathTypes))
	}
	return append(errs, validateBackend(&p.Backend, fldPath.Child("backend"))...)
}

// validateBackend: a backend is a Service port, by name or number, or a
// resource, never both. A Service is named by a DNS-1123 label here (not the
// DNS-1035 label a new Service needs), as upstream 1.37 relaxed it.
func validateBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return validateResourceBackend(b.Resource, fldPath.Child("resource"))
	case b.Service == nil:
		return field.ErrorList{field.Invalid(fldPath, "", "resource or service backend is required")}
	}
	var errs field.ErrorList
	svc, svcPath := b.Service, fldPath.Child("service")
	if svc.Name == "" {
		errs = append(errs, field.Required(svcPath.Child("name"), ""))
	} else {
		errs = append(errs, invalidEach(svcPath.Child("name"), svc.Name, apimachineryvalidation.NameIsDNSLabel(svc.Name, false))...)
	}
	switch name, number := svc.Port.Name, svc.Port.Number; {
	case name != "" && number != 0:
		errs = append(errs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
	case name != "":
		errs = append(errs, invalidEach(svcPath.Child("port", "name"), name, utilvalidation.IsValidPortName(name))...)
	case number != 0:
		errs = append(errs, invalidEach(svcPath.Child("port", "number"), number, utilvalidation.IsValidPortNum(int(number)))...)
	default:
		errs = append(errs, field.Required(fldPath, "port name or number is required"))
	}
	return errs
}

func validateResourceBackend(r *corev1.TypedLocalObjectReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.APIGroup != nil {
		errs = append(errs, validateSubdomain(*r.APIGroup, fldPath.Child("apiGroup"))...)
	}
	errs = append(errs, validateSegmentName(r.Kind, fldPath.Child("kind"))...)
	return append(errs, validateSegmentName(r.Name, fldPath.Child("name"))...)
}

// hasInvalidSecretName reports whether a stored Ingress names a TLS secret
// that is not a valid Secret name.
func hasInvalidSecretName(ing *networkingv1.Ingress) bool {
	for _, tls := range ing.Spec.TLS {
		if tls.SecretName != "" && len(validation.ValidateSecretName(tls.SecretName, false)) > 0 {
			return true
		}
	}
	return false
}

// hasInvalidWildcardRule reports whether a stored Ingress has a wildcard
// host rule whose paths would not pass today.
func hasInvalidWildcardRule(ing *networkingv1.Ingress) bool {
	for i := range ing.Spec.Rules {
		if r := &ing.Spec.Rules[i]; strings.Contains(r.Host, "*") && len(validateRuleValue(r, nil)) > 0 {
			return true
		}
	}
	return false
}
