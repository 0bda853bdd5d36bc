package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateNode validates a node being registered.
func ValidateNode(n *corev1.Node) field.ErrorList {
	errs := ValidateObjectMeta(&n.ObjectMeta, false, ValidateNodeName, metadataPath)
	errs = append(errs, validateNodeCommon(n)...)
	return errs
}

// ValidateNodeUpdate validates an update of a node, including its status, which
// the node agent writes. podCIDRs and providerID may be set once, never changed.
func ValidateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&n.ObjectMeta, &old.ObjectMeta, metadataPath)
	errs = append(errs, validateNodeCommon(n)...)

	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	const setOnce = "node updates may not change podCIDR except from \"\" to valid"
	if len(old.Spec.PodCIDRs) > 0 {
		if len(old.Spec.PodCIDRs) != len(n.Spec.PodCIDRs) {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), setOnce))
		} else {
			for i, cidr := range old.Spec.PodCIDRs {
				if cidr != n.Spec.PodCIDRs[i] {
					errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), setOnce))
				}
			}
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}

func validateNodeCommon(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	// Upstream reports taints under metadata, not spec.
	errs = append(errs, validateNodeTaints(n.Spec.Taints, metadataPath.Child("taints"))...)
	for name, q := range n.Status.Capacity {
		errs = append(errs, validateResourceQuantity(name, q, field.NewPath("status", "capacity", string(name)))...)
	}
	for name, q := range n.Status.Allocatable {
		errs = append(errs, validateResourceQuantity(name, q, field.NewPath("status", "allocatable", string(name)))...)
	}
	if len(n.Spec.PodCIDRs) > 0 {
		p := field.NewPath("spec", "podCIDRs")
		valid := true
		for i, cidr := range n.Spec.PodCIDRs {
			cidrErrs := validateCIDR(cidr, p.Index(i))
			valid = valid && len(cidrErrs) == 0
			errs = append(errs, cidrErrs...)
		}
		if len(n.Spec.PodCIDRs) > 1 {
			if valid && (len(n.Spec.PodCIDRs) > 2 || !isDualStack(n.Spec.PodCIDRs, parseCIDRAddr)) {
				errs = append(errs, field.Invalid(p, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
			}
			seen := sets.New[string]()
			for i, cidr := range n.Spec.PodCIDRs {
				if seen.Has(cidr) {
					errs = append(errs, field.Duplicate(p.Index(i), cidr))
				}
				seen.Insert(cidr)
			}
		}
	}
	return errs
}

// validateNodeTaints: taints are unique by key and effect.
func validateNodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(idxPath.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		errs = append(errs, validateTaintEffect(t.Effect, idxPath.Child("effect"))...)
		if seen[t.Effect].Has(t.Key) {
			dup := field.Duplicate(idxPath, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return errs
}
