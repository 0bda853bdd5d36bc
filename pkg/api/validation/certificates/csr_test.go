package certificates

import (
	"encoding/pem"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/validation"
	vt "github.com/skiffhq/skiff/pkg/api/validation/validationtest"
	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

func newCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    requestPEM(t, "alice", "devs"),
			SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			Username:   "admin",
		},
	}
}

func condition(t certificatesv1.RequestConditionType) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: "Test"}
}

// TestCreate: what a new request may not be, in upstream's words.
func TestCreate(t *testing.T) {
	if errs := ValidateCertificateSigningRequest(newCSR(t)); len(errs) != 0 {
		t.Fatalf("a good request: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		change func(*certificatesv1.CertificateSigningRequest)
		want   []vt.Err
	}{
		{"not PEM", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = []byte("hello") },
			[]vt.Err{vt.Invalid("spec.request", "PEM block type must be CERTIFICATE REQUEST")}},
		{"a certificate, not a request", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = certificatePEM(t) },
			[]vt.Err{vt.Invalid("spec.request", "PEM block type must be CERTIFICATE REQUEST")}},
		{"a signature that does not verify", func(c *certificatesv1.CertificateSigningRequest) {
			block, _ := pem.Decode(c.Spec.Request)
			block.Bytes[len(block.Bytes)-3] ^= 0xff
			c.Spec.Request = pem.EncodeToMemory(block)
		}, []vt.Err{vt.Invalid("spec.request", "")}},
		{"no usages", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil },
			[]vt.Err{vt.Required("spec.usages")}},
		{"unknown and repeated usages", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{"client auth", "flying", "client auth"}
		}, []vt.Err{vt.NotSupported("spec.usages[1]", `supported values: "any", "cert sign"`), vt.Duplicate("spec.usages[2]")}},
		{"no signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "" },
			[]vt.Err{vt.Required("spec.signerName")}},
		{"a signer without a path", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com" },
			[]vt.Err{vt.Invalid("spec.signerName", "must be a fully qualified domain and path of the form 'example.com/signer-name'")}},
		{"a signer with two paths", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com/a/b" },
			[]vt.Err{vt.Invalid("spec.signerName", "must be a fully qualified domain and path")}},
		{"a signer in a one-label domain", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example/signer" },
			[]vt.Err{vt.Invalid("spec.signerName", "should be a domain with at least two segments separated by dots")}},
		{"a signer with upper case", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "Example.com/Signer" },
			[]vt.Err{vt.Invalid("spec.signerName", `validating label "Example": a lowercase RFC 1123 label`),
				vt.Invalid("spec.signerName", `validating label "Signer": a lowercase RFC 1123 subdomain`)}},
		{"the legacy signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "kubernetes.io/legacy-unknown" },
			[]vt.Err{vt.Invalid("spec.signerName", "the legacy signerName is not allowed via this API version")}},
		{"a duration under ten minutes", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = ptr.To[int32](599) },
			[]vt.Err{vt.Invalid("spec.expirationSeconds", "may not specify a duration less than 600 seconds (10 minutes)")}},
		{"conditions without type or status", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Status: corev1.ConditionTrue}, {Type: "Custom"}}
		}, []vt.Err{vt.Required("status.conditions[0].type"), vt.Required("status.conditions[1].status")}},
		{"a false approval and an unknown custom condition", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
				{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse},
				{Type: "Custom", Status: corev1.ConditionUnknown}, {Type: "Other", Status: "Maybe"}}
		}, []vt.Err{vt.NotSupported("status.conditions[0].status", `supported values: "True"`),
			vt.NotSupported("status.conditions[2].status", `supported values: "False", "True", "Unknown"`)}},
		{"a condition twice", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{condition("Custom"), condition("Custom")}
		}, []vt.Err{vt.Duplicate("status.conditions[1].type")}},
		{"a certificate that is not PEM", func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("nope") },
			[]vt.Err{vt.Invalid("status.certificate", "must contain at least one CERTIFICATE PEM block")}},
		{"a key where the certificate goes", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
		}, []vt.Err{vt.Invalid("status.certificate", `only CERTIFICATE PEM blocks are allowed, found "PRIVATE KEY"`)}},
		{"a name with a slash", func(c *certificatesv1.CertificateSigningRequest) { c.Name = "a/b" },
			[]vt.Err{vt.Invalid("metadata.name", "may not contain '/'")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr := newCSR(t)
			tc.change(csr)
			vt.Expect(t, ValidateCertificateSigningRequest(csr), tc.want...)
		})
	}
}

// TestMessages: what kubectl prints after `is invalid: `, word for word.
func TestMessages(t *testing.T) {
	csr := newCSR(t)
	csr.Spec.ExpirationSeconds = ptr.To[int32](300)
	vt.ExpectMessage(t, ValidateCertificateSigningRequest(csr), "spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 600 seconds (10 minutes)")

	csr = newCSR(t)
	csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateApproved), condition(certificatesv1.CertificateDenied)}
	vt.ExpectMessage(t, ValidateCertificateSigningRequest(csr),
		`status.conditions: Invalid value: "{conditions[{\"type\": \"Approved\"}], conditions[{\"type\": \"Denied\"}]}": must specify at most one of: conditions[{"type": "Approved"}], conditions[{"type": "Denied"}]`)

	csr = newCSR(t)
	csr.Spec.Request = []byte("x")
	vt.ExpectMessage(t, ValidateCertificateSigningRequest(csr), `spec.request: Invalid value: "eA==": PEM block type must be CERTIFICATE REQUEST`)
}

func stored(t *testing.T) *certificatesv1.CertificateSigningRequest {
	csr := newCSR(t)
	csr.ObjectMeta = vt.Stored(csr.ObjectMeta)
	return csr
}

// TestUpdatePaths: each write path changes only its own part of the status.
func TestUpdatePaths(t *testing.T) {
	main, status, approval := ValidateCertificateSigningRequestUpdate, ValidateCertificateSigningRequestStatusUpdate, ValidateCertificateSigningRequestApprovalUpdate
	cert := certificatePEM(t)
	approved := func(c *certificatesv1.CertificateSigningRequest) {
		c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateApproved))
	}
	for _, tc := range []struct {
		name     string
		validate func(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList
		old      func(*certificatesv1.CertificateSigningRequest)
		change   func(*certificatesv1.CertificateSigningRequest)
		want     []vt.Err
	}{
		{"labels through the resource", main, nil, func(c *certificatesv1.CertificateSigningRequest) { c.Labels = map[string]string{"a": "b"} }, nil},
		{"approving through the resource", main, nil, approved,
			[]vt.Err{vt.Forbidden("status.conditions", `updates may not add a condition of type "Approved"`)}},
		{"issuing through the resource", main, approved, func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert },
			[]vt.Err{vt.Forbidden("status.certificate", "updates may not set certificate content")}},
		{"approving", approval, nil, approved, nil},
		{"a custom condition through approval", approval, nil, func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = append(c.Status.Conditions, condition("ApprovalPatch"))
		}, nil},
		{"withdrawing an approval", approval, approved, func(c *certificatesv1.CertificateSigningRequest) { c.Status.Conditions = nil },
			[]vt.Err{vt.Forbidden("status.conditions", `updates may not remove a condition of type "Approved"`)}},
		{"denying what was approved", approval, approved, func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateDenied))
		}, []vt.Err{vt.Invalid("status.conditions", "must specify at most one of")}},
		{"issuing through approval", approval, approved, func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert },
			[]vt.Err{vt.Forbidden("status.certificate", "updates may not set certificate content")}},
		{"issuing", status, approved, func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = cert }, nil},
		{"issuing garbage", status, approved, func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("garbage") },
			[]vt.Err{vt.Invalid("status.certificate", "must contain at least one CERTIFICATE PEM block")}},
		{"issuing again", status, func(c *certificatesv1.CertificateSigningRequest) { approved(c); c.Status.Certificate = cert },
			func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = certificatePEM(t) },
			[]vt.Err{vt.Forbidden("status.certificate", "updates may not modify existing certificate content")}},
		{"failing", status, approved, func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateFailed))
		}, nil},
		{"approving through status", status, nil, approved,
			[]vt.Err{vt.Forbidden("status.conditions", `updates may not add a condition of type "Approved"`)}},
		{"changing an approval through status", status, approved, func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions[0].Message = "changed"
		}, []vt.Err{vt.Forbidden("status.conditions", `updates may not modify a condition of type "Approved"`)}},
		{"unfailing", status, func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateFailed))
		}, func(c *certificatesv1.CertificateSigningRequest) { c.Status.Conditions = nil },
			[]vt.Err{vt.Forbidden("status.conditions", `updates may not remove a condition of type "Failed"`)}},
		{"renaming", main, nil, func(c *certificatesv1.CertificateSigningRequest) { c.Name = "bob" },
			[]vt.Err{vt.Invalid("metadata.name", "field is immutable")}},
		{"keeping what was stored wrong", main, func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{"client auth", "flying", "flying"}
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{condition("X"), condition("X"), {Status: corev1.ConditionTrue}}
			c.Status.Certificate = []byte("garbage")
		}, func(c *certificatesv1.CertificateSigningRequest) { c.Annotations = map[string]string{"a": "b"} }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := stored(t)
			if tc.old != nil {
				tc.old(old)
			}
			csr := old.DeepCopy()
			tc.change(csr)
			vt.Expect(t, tc.validate(csr, old), tc.want...)
		})
	}
}

// TestSignerNameLength: a domain and a path each as long as their labels
// allow, and the whole name at most 571 characters.
func TestSignerNameLength(t *testing.T) {
	label := strings.Repeat("a", 63)
	domain := strings.Join([]string{label, label, label, strings.Repeat("a", 61)}, ".") // 253
	if errs := validation.ValidateSignerName(specPath.Child("signerName"), domain+"/"+label+"."+domain); len(errs) != 0 {
		t.Errorf("a name of 571 characters: %v", errs)
	}
	vt.Expect(t, validation.ValidateSignerName(specPath.Child("signerName"), domain+"a/x"), vt.TooLong("spec.signerName"))
	// The path's labels are subdomains, so one of 64 characters is fine.
	vt.Expect(t, validation.ValidateSignerName(specPath.Child("signerName"), domain+"/"+label+"a."+domain), vt.TooLong("spec.signerName"))
	vt.Expect(t, validation.ValidateSignerName(specPath.Child("signerName"), label+"a.com/x"),
		vt.Invalid("spec.signerName", "must be no more than 63 characters"))
}

func requestPEM(t *testing.T, cn string, orgs ...string) []byte {
	_, req := pkitest.UserRequest(t, cn, orgs...)
	return req
}

func certificatePEM(t *testing.T) []byte {
	return pkitest.SelfSigned(t, "x", time.Now().Add(time.Hour))
}
