package validation

import (
	"fmt"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Signer names are shared by the certificates kinds and the pod's
// clusterTrustBundle and podCertificate projections.

// ValidateSignerName checks that signerName is a fully qualified domain and
// a path ("example.com/signer-name"): a domain of DNS-1123 labels, at least
// two, and a path of DNS-1123 subdomains separated by dots, which fits
// "<fqdn>/<namespace>.<name>".
func ValidateSignerName(fldPath *field.Path, signerName string) field.ErrorList {
	if signerName == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	domain, path, ok := strings.Cut(signerName, "/")
	if !ok || strings.Contains(path, "/") {
		return field.ErrorList{field.Invalid(fldPath, signerName, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	const maxDomain, maxLabel = 253, 63
	var errs field.ErrorList
	if len(domain) > maxDomain {
		errs = append(errs, field.TooLong(fldPath, "", maxDomain))
	}
	labels := strings.Split(domain, ".")
	errs = append(errs, firstBadLabel(fldPath, domain, labels, k8svalidation.IsDNS1123Label)...)
	if len(labels) < 2 {
		errs = append(errs, field.Invalid(fldPath, domain, "should be a domain with at least two segments separated by dots"))
	}
	errs = append(errs, firstBadLabel(fldPath, path, strings.Split(path, "."), k8svalidation.IsDNS1123Subdomain)...)
	// The path holds a namespace (a label) and a name (a subdomain).
	if maxSigner := maxDomain + 1 + maxLabel + 1 + maxDomain; len(signerName) > maxSigner {
		errs = append(errs, field.TooLong(fldPath, "", maxSigner))
	}
	return errs
}

// firstBadLabel reports the faults of the first label of segment that check
// refuses: the later ones would only repeat them.
func firstBadLabel(fldPath *field.Path, segment string, labels []string, check func(string) []string) field.ErrorList {
	for _, lbl := range labels {
		if msgs := check(lbl); len(msgs) > 0 {
			var errs field.ErrorList
			for _, msg := range msgs {
				errs = append(errs, field.Invalid(fldPath, segment, fmt.Sprintf("validating label %q: %s", lbl, msg)))
			}
			return errs
		}
	}
	return nil
}

// IsKubernetesSignerName reports a signer of the Kubernetes project: one of
// the domain kubernetes.io or below it.
func IsKubernetesSignerName(signer string) bool {
	host, _, _ := strings.Cut(signer, "/")
	return host == "kubernetes.io" || strings.HasSuffix(host, ".kubernetes.io")
}

// ValidateUserAnnotations takes keys as annotation keys, each with a domain
// prefix, case aside, within the size of all of an object's annotations.
func ValidateUserAnnotations(annotations map[string]string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k := range annotations {
		errs = append(errs, k8svalidation.IsDomainPrefixedKey(fldPath, strings.ToLower(k))...)
	}
	if err := apimachineryvalidation.ValidateAnnotationsSize(annotations); err != nil {
		errs = append(errs, field.TooLong(fldPath, "", apimachineryvalidation.TotalAnnotationSizeLimitB))
	}
	return errs
}
