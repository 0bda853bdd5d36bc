package certificates

import (
	"bytes"
	"fmt"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

var (
	metadataPath    = field.NewPath("metadata")
	specPath        = field.NewPath("spec")
	conditionsPath  = field.NewPath("status", "conditions")
	certificatePath = field.NewPath("status", "certificate")
)

// ValidateCertificateRequestName is the name rule of certificate signing
// requests: upstream does not care what they are called, so only what a URL
// path segment cannot hold ("", ".", "..", "/" and "%") is refused.
var ValidateCertificateRequestName validation.NameFunc = func(name string, _ bool) []string {
	return content.IsPathSegmentName(name)
}

// knownUsages are the key usages a request may ask for, sorted, as upstream
// lists them when one is not supported.
var knownUsages = sortedStrings(
	certificatesv1.UsageSigning, certificatesv1.UsageDigitalSignature, certificatesv1.UsageContentCommitment,
	certificatesv1.UsageKeyEncipherment, certificatesv1.UsageKeyAgreement, certificatesv1.UsageDataEncipherment,
	certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign, certificatesv1.UsageEncipherOnly,
	certificatesv1.UsageDecipherOnly, certificatesv1.UsageAny, certificatesv1.UsageServerAuth,
	certificatesv1.UsageClientAuth, certificatesv1.UsageCodeSigning, certificatesv1.UsageEmailProtection,
	certificatesv1.UsageSMIME, certificatesv1.UsageIPsecEndSystem, certificatesv1.UsageIPsecTunnel,
	certificatesv1.UsageIPsecUser, certificatesv1.UsageTimestamping, certificatesv1.UsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC, certificatesv1.UsageNetscapeSGC,
)

// Condition statuses: Approved, Denied and Failed are facts, which are only
// ever True; any other condition may be True, False or Unknown.
var (
	trueOnlyTypes    = []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed}
	trueOnlyStatuses = []string{string(corev1.ConditionTrue)}
	anyStatuses      = sortedStrings(corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown)
)

// minExpirationSeconds is the shortest certificate a request may ask for:
// twice the five minutes signers backdate certificates by.
const minExpirationSeconds = 600

// The approval conditions: set through the approval subresource only, and
// never both on one request.
var approvalTypes = []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied}

// ValidateCertificateSigningRequest validates a request being created.
func ValidateCertificateSigningRequest(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	errs := validateRequest(csr, leeway{})
	return append(errs, approvedOrDenied(csr, nil)...)
}

// ValidateCertificateSigningRequestUpdate validates a write to the main
// resource, which may change metadata only: neither certificate nor approval
// conditions.
func ValidateCertificateSigningRequestUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateUpdate(csr, old, leewayFor(csr, old))
}

// ValidateCertificateSigningRequestStatusUpdate validates a write to the
// status subresource: the signer's, which may set the certificate once and
// add conditions other than Approved and Denied.
func ValidateCertificateSigningRequestStatusUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	l := leewayFor(csr, old)
	l.certificate = true
	return validateUpdate(csr, old, l)
}

// ValidateCertificateSigningRequestApprovalUpdate validates a write to the
// approval subresource, which may add and change Approved and Denied
// conditions (never remove them).
func ValidateCertificateSigningRequestApprovalUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	l := leewayFor(csr, old)
	l.approval = true
	return validateUpdate(csr, old, l)
}

// leeway is what a write may do that a create may not: change the parts of
// the status its path owns, and keep what the stored object already got
// wrong, which upstream tolerates so that old data stays writable.
type leeway struct {
	// approval lets Approved and Denied conditions be added or changed.
	approval bool
	// certificate lets status.certificate be set where it was empty.
	certificate bool

	legacySigner    bool // the stored request names kubernetes.io/legacy-unknown
	emptyTypes      bool // the stored request has a condition without a type
	duplicateTypes  bool // the stored request has two conditions of one type
	unknownUsages   bool // the stored request asks for a usage not known
	duplicateUsages bool // the stored request asks for a usage twice
	// uncheckedCertificate skips status.certificate: unchanged by the
	// write, or already not one when stored.
	uncheckedCertificate bool
}

func leewayFor(csr, old *certificatesv1.CertificateSigningRequest) leeway {
	return leeway{
		legacySigner:         old.Spec.SignerName == certificatesv1beta1.LegacyUnknownSignerName,
		emptyTypes:           slices.ContainsFunc(old.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool { return c.Type == "" }),
		duplicateTypes:       hasDuplicates(conditionTypes(old)),
		unknownUsages:        slices.ContainsFunc(old.Spec.Usages, func(u certificatesv1.KeyUsage) bool { return !slices.Contains(knownUsages, string(u)) }),
		duplicateUsages:      hasDuplicates(old.Spec.Usages),
		uncheckedCertificate: bytes.Equal(csr.Status.Certificate, old.Status.Certificate) || checkCertificates(old.Status.Certificate) != nil,
	}
}

func validateUpdate(csr, old *certificatesv1.CertificateSigningRequest, l leeway) field.ErrorList {
	errs := validateRequest(csr, l)
	// Approved, Denied and Failed are facts: once stated, never withdrawn.
	for _, t := range trueOnlyTypes {
		if len(conditionsOf(csr, t)) < len(conditionsOf(old, t)) {
			errs = append(errs, field.Forbidden(conditionsPath, fmt.Sprintf("updates may not remove a condition of type %q", t)))
		}
	}
	if !l.approval {
		for _, t := range approvalTypes {
			was, is := conditionsOf(old, t), conditionsOf(csr, t)
			switch {
			case len(is) < len(was):
				// Reported as a removal above.
			case len(is) > len(was):
				errs = append(errs, field.Forbidden(conditionsPath, fmt.Sprintf("updates may not add a condition of type %q", t)))
			case !equality.Semantic.DeepEqual(was, is):
				errs = append(errs, field.Forbidden(conditionsPath, fmt.Sprintf("updates may not modify a condition of type %q\n%v", t, diff.Diff(was, is))))
			}
		}
	}
	if !bytes.Equal(csr.Status.Certificate, old.Status.Certificate) {
		switch {
		case !l.certificate:
			errs = append(errs, field.Forbidden(certificatePath, "updates may not set certificate content"))
		case len(old.Status.Certificate) > 0:
			errs = append(errs, field.Forbidden(certificatePath, "updates may not modify existing certificate content"))
		}
	}
	errs = append(errs, validation.ValidateObjectMetaUpdate(&csr.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(errs, approvedOrDenied(csr, old)...)
}

// validateRequest checks what a request must be, whatever the write.
func validateRequest(csr *certificatesv1.CertificateSigningRequest, l leeway) field.ErrorList {
	errs := validation.ValidateObjectMeta(&csr.ObjectMeta, false, ValidateCertificateRequestName, metadataPath)
	spec := &csr.Spec
	if err := checkRequest(spec.Request); err != nil {
		errs = append(errs, field.Invalid(specPath.Child("request"), spec.Request, err.Error()))
	}
	usagesPath := specPath.Child("usages")
	if len(spec.Usages) == 0 {
		errs = append(errs, field.Required(usagesPath, ""))
	}
	if !l.unknownUsages {
		for i, u := range spec.Usages {
			if !slices.Contains(knownUsages, string(u)) {
				errs = append(errs, field.NotSupported(usagesPath.Index(i), u, knownUsages))
			}
		}
	}
	if !l.duplicateUsages {
		for i, u := range spec.Usages {
			if slices.Contains(spec.Usages[:i], u) {
				errs = append(errs, field.Duplicate(usagesPath.Index(i), u))
			}
		}
	}
	signerPath := specPath.Child("signerName")
	if spec.SignerName == certificatesv1beta1.LegacyUnknownSignerName && !l.legacySigner {
		errs = append(errs, field.Invalid(signerPath, spec.SignerName, "the legacy signerName is not allowed via this API version"))
	} else {
		errs = append(errs, validation.ValidateSignerName(signerPath, spec.SignerName)...)
	}
	if s := spec.ExpirationSeconds; s != nil && *s < minExpirationSeconds {
		errs = append(errs, field.Invalid(specPath.Child("expirationSeconds"), *s, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	errs = append(errs, validateConditions(csr.Status.Conditions, l)...)
	if !l.uncheckedCertificate {
		if err := checkCertificates(csr.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(certificatePath, "<certificate data>", err.Error()))
		}
	}
	return errs
}

func validateConditions(conditions []certificatesv1.CertificateSigningRequestCondition, l leeway) field.ErrorList {
	var errs field.ErrorList
	for i, c := range conditions {
		p := conditionsPath.Index(i)
		if c.Type == "" && !l.emptyTypes {
			errs = append(errs, field.Required(p.Child("type"), ""))
		}
		allowed := anyStatuses
		if slices.Contains(trueOnlyTypes, c.Type) {
			allowed = trueOnlyStatuses
		}
		switch {
		case c.Status == "":
			errs = append(errs, field.Required(p.Child("status"), ""))
		case !slices.Contains(allowed, string(c.Status)):
			errs = append(errs, field.NotSupported(p.Child("status"), c.Status, allowed))
		}
		if !l.duplicateTypes && slices.ContainsFunc(conditions[:i], func(o certificatesv1.CertificateSigningRequestCondition) bool { return o.Type == c.Type }) {
			errs = append(errs, field.Duplicate(p.Child("type"), c.Type))
		}
	}
	return errs
}

// approvedOrDenied refuses a request that is both Approved and Denied. It is
// upstream's declarative rule, which comes after every hand-written error in
// its words and, on update, looks only at conditions the write changes.
func approvedOrDenied(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	if old != nil && equality.Semantic.DeepEqual(csr.Status.Conditions, old.Status.Conditions) {
		return nil
	}
	if len(conditionsOf(csr, certificatesv1.CertificateApproved)) == 0 || len(conditionsOf(csr, certificatesv1.CertificateDenied)) == 0 {
		return nil
	}
	const approved, denied = `conditions[{"type": "Approved"}]`, `conditions[{"type": "Denied"}]`
	return field.ErrorList{field.Invalid(conditionsPath, "{"+approved+", "+denied+"}",
		"must specify at most one of: "+approved+", "+denied).WithOrigin("zeroOrOneOf")}
}

func conditionsOf(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			out = append(out, c)
		}
	}
	return out
}

func conditionTypes(csr *certificatesv1.CertificateSigningRequest) []certificatesv1.RequestConditionType {
	types := make([]certificatesv1.RequestConditionType, len(csr.Status.Conditions))
	for i, c := range csr.Status.Conditions {
		types[i] = c.Type
	}
	return types
}

func hasDuplicates[T comparable](list []T) bool {
	for i := range list {
		if slices.Contains(list[:i], list[i]) {
			return true
		}
	}
	return false
}

func sortedStrings[T ~string](values ...T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}
