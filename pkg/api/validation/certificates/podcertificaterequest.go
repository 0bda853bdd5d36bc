package certificates

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/api/validation"
)

// Bounds of a pod certificate request, as upstream's.
const (
	// MinMaxExpirationSeconds is the shortest lifetime a request may cap
	// its certificate at, and the shortest certificate a signer may issue:
	// an hour.
	MinMaxExpirationSeconds = 60 * 60
	// MaxMaxExpirationSeconds is the longest for other signers: 91 days.
	MaxMaxExpirationSeconds = 91 * 24 * 60 * 60
	// KubernetesMaxMaxExpirationSeconds is the longest for the signers of
	// kubernetes.io: a day.
	KubernetesMaxMaxExpirationSeconds = 24 * 60 * 60
	// DefaultMaxExpirationSeconds is what a request that names none gets.
	DefaultMaxExpirationSeconds = 24 * 60 * 60

	maxStubPKCS10RequestSize = 10 * 1024
	maxCertificateChainSize  = 100 * 1024
	maxUIDLength             = 128
)

var (
	stubRequestPath   = specPath.Child("stubPKCS10Request")
	certChainPath     = field.NewPath("status", "certificateChain")
	notBeforePath     = field.NewPath("status", "notBefore")
	notAfterPath      = field.NewPath("status", "notAfter")
	beginRefreshPath  = field.NewPath("status", "beginRefreshAt")
	pcrConditionsPath = field.NewPath("status", "conditions")
	terminalTypes     = []string{certificatesv1.PodCertificateRequestConditionTypeIssued, certificatesv1.PodCertificateRequestConditionTypeDenied, certificatesv1.PodCertificateRequestConditionTypeFailed}
)

// DefaultPodCertificateRequest gives a request that caps no lifetime
// upstream's day.
func DefaultPodCertificateRequest(r *certificatesv1.PodCertificateRequest) {
	if r.Spec.MaxExpirationSeconds == nil {
		s := int32(DefaultMaxExpirationSeconds)
		r.Spec.MaxExpirationSeconds = &s
	}
}

// ValidatePodCertificateRequest validates a request being created: who it is
// for (pod, service account and node, each by name and UID), its signer, its
// lifetime cap, and its stub PKCS #10 request, whose key must be of a kind
// upstream allows and whose signature must verify, proving the requester
// holds the private key.
func ValidatePodCertificateRequest(r *certificatesv1.PodCertificateRequest) field.ErrorList {
	errs := validation.ValidateObjectMeta(&r.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, metadataPath)
	s := &r.Spec
	errs = append(errs, validation.ValidateSignerName(specPath.Child("signerName"), s.SignerName)...)
	if s.UnverifiedUserAnnotations != nil {
		errs = append(errs, validation.ValidateUserAnnotations(s.UnverifiedUserAnnotations, specPath.Child("unverifiedUserAnnotations"))...)
	}
	errs = append(errs, validation.ValidateName(validation.ValidatePodName, s.PodName, specPath.Child("podName"))...)
	errs = append(errs, validateUID(s.PodUID, specPath.Child("podUID"))...)
	errs = append(errs, validation.ValidateName(validation.ValidateServiceAccountName, s.ServiceAccountName, specPath.Child("serviceAccountName"))...)
	errs = append(errs, validateUID(s.ServiceAccountUID, specPath.Child("serviceAccountUID"))...)
	for _, msg := range validation.ValidateNodeName(string(s.NodeName), false) {
		errs = append(errs, field.Invalid(specPath.Child("nodeName"), s.NodeName, msg))
	}
	errs = append(errs, validateUID(s.NodeUID, specPath.Child("nodeUID"))...)

	if s.MaxExpirationSeconds == nil {
		return append(errs, field.Required(specPath.Child("maxExpirationSeconds"), "must be set"))
	}
	most := int32(MaxMaxExpirationSeconds)
	if validation.IsKubernetesSignerName(s.SignerName) {
		most = KubernetesMaxMaxExpirationSeconds
	}
	if v := *s.MaxExpirationSeconds; v < MinMaxExpirationSeconds || v > most {
		errs = append(errs, field.Invalid(specPath.Child("maxExpirationSeconds"), s.MaxExpirationSeconds,
			fmt.Sprintf("must be in the range [%d, %d]", MinMaxExpirationSeconds, most)))
	}
	if len(s.StubPKCS10Request) == 0 {
		// Upstream's words name the deprecated pair that v1 does not serve.
		return append(errs, field.Invalid(specPath, field.OmitValueType{}, "exactly one of (stubPKCS10Request) or (pkixPublicKey, proofOfPossession) must be set"))
	}
	return append(errs, validateStubRequest(s.StubPKCS10Request)...)
}

func validateUID[T ~string](uid T, fldPath *field.Path) field.ErrorList {
	switch {
	case len(uid) == 0:
		return field.ErrorList{field.Invalid(fldPath, uid, "must not be empty")}
	case len(uid) > maxUIDLength:
		return field.ErrorList{field.TooLong(fldPath, uid, maxUIDLength)}
	}
	return nil
}

// validateStubRequest checks the DER PKCS #10 request: Ed25519, ECDSA on
// P-256, P-384 or P-521, or RSA of 3072 or 4096 bits, signed by its key. What
// it asks for is the signer's business: kubelet sends it empty.
func validateStubRequest(der []byte) field.ErrorList {
	if len(der) > maxStubPKCS10RequestSize {
		return field.ErrorList{field.TooLong(stubRequestPath, der, maxStubPKCS10RequestSize)}
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return field.ErrorList{field.Invalid(stubRequestPath, field.OmitValueType{}, "must be a valid PKCS#10 CSR")}
	}
	switch pub := req.PublicKey.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() && pub.Curve != elliptic.P521() {
			return field.ErrorList{field.Invalid(stubRequestPath, "curve "+pub.Curve.Params().Name, "elliptic public keys must use curve P256, P384, or P521")}
		}
	case *rsa.PublicKey:
		if bits := pub.Size() * 8; bits != 3072 && bits != 4096 {
			return field.ErrorList{field.Invalid(stubRequestPath, fmt.Sprintf("%d-bit modulus", bits), "RSA keys must have modulus size 3072 or 4096")}
		}
	default:
		return field.ErrorList{field.Invalid(stubRequestPath, field.OmitValueType{}, "unknown public key type; supported types are Ed25519, ECDSA, and RSA")}
	}
	if err := req.CheckSignature(); err != nil {
		return field.ErrorList{field.Invalid(stubRequestPath, field.OmitValueType{}, "invalid signature")}
	}
	return nil
}

// ValidatePodCertificateRequestUpdate validates a write to the main
// resource: a request is what its pod asked, so only metadata may change.
func ValidatePodCertificateRequestUpdate(r, old *certificatesv1.PodCertificateRequest) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(errs, apimachineryvalidation.ValidateImmutableField(r.Spec, old.Spec, specPath)...)
}

// ValidatePodCertificateRequestStatusUpdate validates the signer's write to
// /status at now: it may end a pending request once, by one condition of
// Issued (with a certificate for the requested key, a lifetime of an hour
// to spec.maxExpirationSeconds, and the times it states), Denied or Failed
// (with nothing else); an ended request's status never changes again.
func ValidatePodCertificateRequestStatusUpdate(r, old *certificatesv1.PodCertificateRequest, now time.Time) field.ErrorList {
	errs := validation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, metadataPath)
	if len(errs) > 0 {
		return errs
	}
	terminal := 0
	for i, c := range r.Status.Conditions {
		// Upstream's path: "status.conditions.[0].type".
		p := pcrConditionsPath.Child("[" + strconv.Itoa(i) + "]")
		switch c.Type {
		case certificatesv1.PodCertificateRequestConditionTypeIssued, certificatesv1.PodCertificateRequestConditionTypeDenied, certificatesv1.PodCertificateRequestConditionTypeFailed:
			if terminal++; terminal > 1 {
				errs = append(errs, field.Invalid(p.Child("type"), c.Type, `There may be at most one condition with type "Issued", "Denied", or "Failed"`))
			}
			if c.Status != metav1.ConditionTrue {
				errs = append(errs, field.NotSupported(p.Child("status"), c.Status, []metav1.ConditionStatus{metav1.ConditionTrue}))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), c.Type, terminalTypes))
		}
	}
	errs = append(errs, metav1validation.ValidateConditions(r.Status.Conditions, pcrConditionsPath)...)
	if len(errs) > 0 {
		return errs
	}
	unchanged := func(detail string) field.ErrorList {
		if equality.Semantic.DeepEqual(r.Status, old.Status) {
			return nil
		}
		return field.ErrorList{field.Invalid(field.NewPath("status"), field.OmitValueType{}, detail)}
	}
	switch {
	case ended(old, ""):
		return unchanged("immutable after PodCertificateRequest is issued, denied, or failed")
	case ended(r, certificatesv1.PodCertificateRequestConditionTypeDenied), ended(r, certificatesv1.PodCertificateRequestConditionTypeFailed):
		if equality.Semantic.DeepEqual(r.Status, certificatesv1.PodCertificateRequestStatus{Conditions: r.Status.Conditions}) {
			return nil
		}
		return field.ErrorList{field.Invalid(field.NewPath("status"), field.OmitValueType{}, "non-condition status fields must be empty when denying or failing the PodCertificateRequest")}
	case ended(r, certificatesv1.PodCertificateRequestConditionTypeIssued):
		return validateIssued(r, old, now)
	}
	return unchanged(`status is immutable unless transitioning to "Issued", "Denied", or "Failed"`)
}

// ended reports whether r has a True condition of type t, or of any
// terminal type when t is "".
func ended(r *certificatesv1.PodCertificateRequest, t string) bool {
	for _, c := range r.Status.Conditions {
		if c.Status == metav1.ConditionTrue && (c.Type == t || t == "" && (c.Type == certificatesv1.PodCertificateRequestConditionTypeIssued ||
			c.Type == certificatesv1.PodCertificateRequestConditionTypeDenied || c.Type == certificatesv1.PodCertificateRequestConditionTypeFailed)) {
			return true
		}
	}
	return false
}

// validateIssued checks the certificate chain of a request being issued.
func validateIssued(r, old *certificatesv1.PodCertificateRequest, now time.Time) field.ErrorList {
	st := &r.Status
	chain := st.CertificateChain
	invalid := func(p *field.Path, v any, detail string) field.ErrorList {
		return field.ErrorList{field.Invalid(p, v, detail)}
	}
	if len(chain) > maxCertificateChainSize {
		return field.ErrorList{field.TooLong(certChainPath, chain, maxCertificateChainSize)}
	}
	leafBlock, rest := pem.Decode([]byte(chain))
	if leafBlock == nil {
		return invalid(certChainPath, chain, "issued certificate chain must contain at least one certificate")
	}
	if leafBlock.Type != "CERTIFICATE" {
		return invalid(certChainPath, chain, "issued certificate chain must consist entirely of CERTIFICATE PEM blocks")
	}
	leaf, err := x509.ParseCertificate(leafBlock.Bytes)
	if err != nil {
		return invalid(certChainPath, chain, "leaf certificate does not parse as valid X.509")
	}
	var errs field.ErrorList
	for _, name := range leaf.DNSNames {
		if name == "" {
			errs = append(errs, field.Invalid(certChainPath, name, "leaf certificate should not contain empty DNSName"))
		}
		if strings.Contains(name, "..") {
			errs = append(errs, field.Invalid(certChainPath, name, "leaf certificate's DNSName should not contain '..'"))
		}
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			errs = append(errs, field.Invalid(certChainPath, name, "leaf certificate's DNSName should not start or end with '.'"))
		}
	}
	for _, addr := range leaf.EmailAddresses {
		if _, err := mail.ParseAddress(addr); err != nil {
			errs = append(errs, field.Invalid(certChainPath, addr, "leaf certificate should not contain invalid EmailAddress"))
		}
	}
	req, err := x509.ParseCertificateRequest(old.Spec.StubPKCS10Request)
	if err != nil {
		return append(errs, field.Invalid(stubRequestPath, field.OmitValueType{}, "must be a valid PKCS#10 CSR"))
	}
	if k, ok := req.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(leaf.PublicKey) {
		return append(errs, field.Invalid(certChainPath, chain, "leaf certificate was not issued to the requested public key"))
	}
	if st.NotBefore == nil {
		errs = append(errs, field.Required(notBeforePath, "must be present and consistent with the issued certificate"))
	}
	if st.NotAfter == nil {
		errs = append(errs, field.Required(notAfterPath, "must be present and consistent with the issued certificate"))
	}
	if st.BeginRefreshAt == nil {
		errs = append(errs, field.Required(beginRefreshPath, "must be present and in the range [notbefore+10min, notafter-10min]"))
	}
	if len(errs) > 0 {
		return errs
	}
	const skew = 5 * time.Minute
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	switch {
	case !st.NotBefore.Time.Equal(leaf.NotBefore):
		return invalid(notBeforePath, st.NotBefore.Time, "must be set to the NotBefore time encoded in the leaf certificate")
	case !st.NotBefore.Time.After(now.Add(-skew)) || !st.NotBefore.Time.Before(now.Add(skew)):
		return invalid(notBeforePath, st.NotBefore.Time, "must be set to within 5 minutes of kube-apiserver's current time")
	case !st.NotAfter.Time.Equal(leaf.NotAfter):
		return invalid(notAfterPath, st.NotAfter.Time, "must be set to the NotAfter time encoded in the leaf certificate")
	case lifetime < time.Hour:
		return invalid(certChainPath, lifetime, "leaf certificate lifetime must be >= 1 hour")
	case lifetime > time.Duration(*r.Spec.MaxExpirationSeconds)*time.Second:
		return invalid(certChainPath, lifetime, fmt.Sprintf("leaf certificate lifetime must be <= spec.maxExpirationSeconds (%v)", *r.Spec.MaxExpirationSeconds))
	case st.BeginRefreshAt.Time.Before(st.NotBefore.Time.Add(10 * time.Minute)):
		return invalid(beginRefreshPath, st.BeginRefreshAt.Time, "must be at least 10 minutes after status.notBefore")
	case st.BeginRefreshAt.Time.After(st.NotAfter.Time.Add(-10 * time.Minute)):
		return invalid(beginRefreshPath, st.BeginRefreshAt.Time, "must be at least 10 minutes before status.notAfter")
	}
	// The rest of the chain cannot be verified as a partial chain, but each
	// must be a certificate.
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil
		}
		if b.Type != "CERTIFICATE" {
			// Upstream's spelling.
			return invalid(certChainPath, chain, "issued certificate chain must consist entirely of CERTFICATE PEM blocks")
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return invalid(certChainPath, chain, "intermediate certificate does not parse as valid X.509")
		}
	}
}
