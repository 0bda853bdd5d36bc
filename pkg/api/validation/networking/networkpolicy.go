package networking

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var (
	policyProtocols = []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}
	policyTypes     = []string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}
)

// policyOptions relax rules that a stored policy may already break, so that
// it can still be updated.
type policyOptions struct {
	selectors metav1validation.LabelSelectorValidationOptions
	// oldCIDRs are the CIDRs of the stored policy, which may stay in a form
	// strict parsing now refuses.
	oldCIDRs []string
}

// ValidateNetworkPolicy validates a new NetworkPolicy: its selectors, each
// rule's ports and peers (one of pod and namespace selectors, or an IP
// block alone), and its policy types.
func ValidateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	errs := validation.ValidateObjectMeta(&np.ObjectMeta, true, ValidateNetworkPolicyName, metadataPath)
	return append(errs, validatePolicySpec(&np.Spec, field.NewPath("spec"), policyOptions{})...)
}

// ValidateNetworkPolicyUpdate validates an update of a NetworkPolicy, as on
// create except what the stored policy already broke: a pod selector with
// an invalid label value, CIDRs that strict parsing refuses.
func ValidateNetworkPolicyUpdate(np, old *networkingv1.NetworkPolicy) field.ErrorList {
	var opts policyOptions
	if len(metav1validation.ValidateLabelSelector(&old.Spec.PodSelector, opts.selectors, nil)) > 0 {
		opts.selectors.AllowInvalidLabelValueInSelector = true
	}
	forEachIPBlock(&old.Spec, func(b *networkingv1.IPBlock) { opts.oldCIDRs = append(append(opts.oldCIDRs, b.CIDR), b.Except...) })
	errs := validation.ValidateObjectMetaUpdate(&np.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(errs, validatePolicySpec(&np.Spec, field.NewPath("spec"), opts)...)
}

func forEachIPBlock(spec *networkingv1.NetworkPolicySpec, f func(*networkingv1.IPBlock)) {
	for _, rule := range spec.Ingress {
		for _, peer := range rule.From {
			if peer.IPBlock != nil {
				f(peer.IPBlock)
			}
		}
	}
	for _, rule := range spec.Egress {
		for _, peer := range rule.To {
			if peer.IPBlock != nil {
				f(peer.IPBlock)
			}
		}
	}
}

func validatePolicySpec(spec *networkingv1.NetworkPolicySpec, fldPath *field.Path, opts policyOptions) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(&spec.PodSelector, opts.selectors, fldPath.Child("podSelector"))
	for i, rule := range spec.Ingress {
		rulePath := fldPath.Child("ingress").Index(i)
		errs = append(errs, validatePorts(rule.Ports, rulePath.Child("ports"))...)
		for j := range rule.From {
			errs = append(errs, validatePeer(&rule.From[j], rulePath.Child("from").Index(j), opts)...)
		}
	}
	for i, rule := range spec.Egress {
		rulePath := fldPath.Child("egress").Index(i)
		errs = append(errs, validatePorts(rule.Ports, rulePath.Child("ports"))...)
		for j := range rule.To {
			errs = append(errs, validatePeer(&rule.To[j], rulePath.Child("to").Index(j), opts)...)
		}
	}
	typesPath := fldPath.Child("policyTypes")
	if len(spec.PolicyTypes) > len(policyTypes) {
		return append(errs, field.Invalid(typesPath, &spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range spec.PolicyTypes {
		if !slices.Contains(policyTypes, string(t)) {
			errs = append(errs, field.NotSupported(typesPath.Index(i), t, policyTypes))
		}
	}
	return errs
}

// validatePorts: a port is a number or a name; a range (endPort) needs a
// numeric port to start from.
func validatePorts(ports []networkingv1.NetworkPolicyPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, port := range ports {
		p := fldPath.Index(i)
		if port.Protocol != nil && !slices.Contains(policyProtocols, string(*port.Protocol)) {
			errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, policyProtocols))
		}
		endPath := p.Child("endPort")
		switch {
		case port.Port == nil:
			if port.EndPort != nil {
				errs = append(errs, field.Invalid(endPath, *port.EndPort, "may not be specified when `port` is not specified"))
			}
		case port.Port.Type == intstr.Int:
			errs = append(errs, invalidEach(p.Child("port"), port.Port.IntVal, utilvalidation.IsValidPortNum(int(port.Port.IntVal)))...)
			if port.EndPort != nil {
				if *port.EndPort < port.Port.IntVal {
					errs = append(errs, field.Invalid(endPath, *port.EndPort, "must be greater than or equal to `port`"))
				}
				errs = append(errs, invalidEach(endPath, *port.EndPort, utilvalidation.IsValidPortNum(int(*port.EndPort)))...)
			}
		default:
			if port.EndPort != nil {
				errs = append(errs, field.Invalid(endPath, *port.EndPort, "may not be specified when `port` is non-numeric"))
			}
			errs = append(errs, invalidEach(p.Child("port"), port.Port.StrVal, utilvalidation.IsValidPortName(port.Port.StrVal))...)
		}
	}
	return errs
}

func validatePeer(peer *networkingv1.NetworkPolicyPeer, fldPath *field.Path, opts policyOptions) field.ErrorList {
	var errs field.ErrorList
	peers := 0
	if peer.PodSelector != nil {
		peers++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts.selectors, fldPath.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		peers++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts.selectors, fldPath.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		peers++
		errs = append(errs, validateIPBlock(peer.IPBlock, fldPath.Child("ipBlock"), opts.oldCIDRs)...)
	}
	switch {
	case peers == 0:
		errs = append(errs, field.Required(fldPath, "must specify a peer"))
	case peers > 1 && peer.IPBlock != nil:
		errs = append(errs, field.Forbidden(fldPath, "may not specify both ipBlock and another peer"))
	}
	return errs
}

// validateIPBlock: each exception is a strict subset of the block's CIDR.
func validateIPBlock(b *networkingv1.IPBlock, fldPath *field.Path, oldCIDRs []string) field.ErrorList {
	cidrPath := fldPath.Child("cidr")
	if b.CIDR == "" {
		return field.ErrorList{field.Required(cidrPath, "")}
	}
	errs := utilvalidation.IsValidCIDRForLegacyField(cidrPath, b.CIDR, true, oldCIDRs)
	_, block, err := netutils.ParseCIDRSloppy(b.CIDR)
	if err != nil {
		return errs
	}
	blockBits, _ := block.Mask.Size()
	for i, except := range b.Except {
		exceptPath := fldPath.Child("except").Index(i)
		errs = append(errs, utilvalidation.IsValidCIDRForLegacyField(exceptPath, except, true, oldCIDRs)...)
		_, ex, err := netutils.ParseCIDRSloppy(except)
		if err != nil {
			continue
		}
		if exBits, _ := ex.Mask.Size(); !block.Contains(ex.IP) || blockBits >= exBits {
			errs = append(errs, field.Invalid(exceptPath, except, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
