package certificates

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	vt "github.com/skiffhq/skiff/pkg/api/validation/validationtest"
	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

func newPCR(t *testing.T, key crypto.Signer) *certificatesv1.PodCertificateRequest {
	r := &certificatesv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default"},
		Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName: "example.com/signer", PodName: "web", PodUID: "pod-uid",
			ServiceAccountName: "robot", ServiceAccountUID: "sa-uid", NodeName: "n1", NodeUID: "node-uid",
			StubPKCS10Request: pkitest.StubRequest(t, key),
		},
	}
	DefaultPodCertificateRequest(r)
	return r
}

// TestPodCertificateRequest: what a new request may not be, in upstream's
// words.
func TestPodCertificateRequest(t *testing.T) {
	key := pkitest.Key(t)
	r := newPCR(t, key)
	if *r.Spec.MaxExpirationSeconds != 86400 {
		t.Errorf("maxExpirationSeconds defaults to %d, want 86400", *r.Spec.MaxExpirationSeconds)
	}
	if errs := ValidatePodCertificateRequest(r); len(errs) != 0 {
		t.Fatalf("a good request: %v", errs)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, tc := range []struct {
		name   string
		change func(*certificatesv1.PodCertificateRequest)
		want   []vt.Err
	}{
		{"a P-384 key", func(r *certificatesv1.PodCertificateRequest) { r.Spec.StubPKCS10Request = pkitest.StubRequest(t, p384) }, nil},
		{"91 days for another signer", func(r *certificatesv1.PodCertificateRequest) { r.Spec.MaxExpirationSeconds = ptr.To[int32](7862400) }, nil},
		{"names missing", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.PodName, r.Spec.ServiceAccountName, r.Spec.NodeName = "", "", ""
			r.Spec.PodUID, r.Spec.ServiceAccountUID, r.Spec.NodeUID = "", "", ""
		}, []vt.Err{
			vt.Invalid("spec.podName", ""), vt.Invalid("spec.podUID", "must not be empty"),
			vt.Invalid("spec.serviceAccountName", ""), vt.Invalid("spec.serviceAccountUID", "must not be empty"),
			vt.Invalid("spec.nodeName", ""), vt.Invalid("spec.nodeUID", "must not be empty"),
		}},
		{"a long UID", func(r *certificatesv1.PodCertificateRequest) { r.Spec.PodUID = types.UID(strings.Repeat("x", 129)) },
			[]vt.Err{vt.TooLong("spec.podUID")}},
		{"no signer", func(r *certificatesv1.PodCertificateRequest) { r.Spec.SignerName = "" },
			[]vt.Err{vt.Required("spec.signerName")}},
		{"under an hour", func(r *certificatesv1.PodCertificateRequest) { r.Spec.MaxExpirationSeconds = ptr.To[int32](3599) },
			[]vt.Err{vt.Invalid("spec.maxExpirationSeconds", "must be in the range [3600, 7862400]")}},
		{"over 91 days", func(r *certificatesv1.PodCertificateRequest) { r.Spec.MaxExpirationSeconds = ptr.To[int32](7862401) },
			[]vt.Err{vt.Invalid("spec.maxExpirationSeconds", "must be in the range [3600, 7862400]")}},
		{"over a day for kubernetes.io", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.SignerName, r.Spec.MaxExpirationSeconds = "kubernetes.io/foo", ptr.To[int32](86401)
		}, []vt.Err{vt.Invalid("spec.maxExpirationSeconds", "must be in the range [3600, 86400]")}},
		{"no lifetime cap", func(r *certificatesv1.PodCertificateRequest) { r.Spec.MaxExpirationSeconds = nil },
			[]vt.Err{vt.Required("spec.maxExpirationSeconds")}},
		{"no request", func(r *certificatesv1.PodCertificateRequest) { r.Spec.StubPKCS10Request = nil },
			[]vt.Err{vt.Invalid("spec", "exactly one of (stubPKCS10Request) or (pkixPublicKey, proofOfPossession) must be set")}},
		{"PEM, not DER", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.StubPKCS10Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: r.Spec.StubPKCS10Request})
		}, []vt.Err{vt.Invalid("spec.stubPKCS10Request", "must be a valid PKCS#10 CSR")}},
		{"a signature that does not verify", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.StubPKCS10Request[len(r.Spec.StubPKCS10Request)-3] ^= 0xff
		}, []vt.Err{vt.Invalid("spec.stubPKCS10Request", "invalid signature")}},
		{"a P-224 key", func(r *certificatesv1.PodCertificateRequest) { r.Spec.StubPKCS10Request = pkitest.StubRequest(t, p224) },
			[]vt.Err{vt.Invalid("spec.stubPKCS10Request", "elliptic public keys must use curve P256, P384, or P521")}},
		{"a 1024-bit RSA key", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.StubPKCS10Request = pkitest.StubRequest(t, rsa1024)
		},
			[]vt.Err{vt.Invalid("spec.stubPKCS10Request", "RSA keys must have modulus size 3072 or 4096")}},
		{"annotations without a domain", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.UnverifiedUserAnnotations = map[string]string{"example.com/ok": "1", "bare": "2"}
		}, []vt.Err{vt.Invalid("spec.unverifiedUserAnnotations", `must be a domain-prefixed key (such as "acme.io/foo")`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPCR(t, key)
			tc.change(r)
			vt.Expect(t, ValidatePodCertificateRequest(r), tc.want...)
		})
	}
	r = newPCR(t, key)
	r.Spec.MaxExpirationSeconds = ptr.To[int32](60)
	vt.ExpectMessage(t, ValidatePodCertificateRequest(r), "spec.maxExpirationSeconds: Invalid value: 60: must be in the range [3600, 7862400]")
}

// TestPodCertificateRequestUpdate: only metadata changes.
func TestPodCertificateRequestUpdate(t *testing.T) {
	old := newPCR(t, pkitest.Key(t))
	old.ObjectMeta = vt.Stored(old.ObjectMeta)
	r := old.DeepCopy()
	r.Labels = map[string]string{"a": "b"}
	if errs := ValidatePodCertificateRequestUpdate(r, old); len(errs) != 0 {
		t.Errorf("a label: %v", errs)
	}
	r.Spec.PodName = "other"
	vt.Expect(t, ValidatePodCertificateRequestUpdate(r, old), vt.Invalid("spec", "field is immutable"))
}

func issued(now time.Time) metav1.Condition {
	return metav1.Condition{Type: "Issued", Status: metav1.ConditionTrue, Reason: "Signed", LastTransitionTime: metav1.NewTime(now)}
}

// TestPodCertificateRequestStatusUpdate: the signer ends a request once.
func TestPodCertificateRequestStatusUpdate(t *testing.T) {
	key := pkitest.Key(t)
	ca, caKey, _ := pkitest.CA(t, "signer")
	now := time.Now().Truncate(time.Second)
	old := newPCR(t, key)
	old.ObjectMeta = vt.Stored(old.ObjectMeta)
	issue := func(pub crypto.PublicKey, life time.Duration) *certificatesv1.PodCertificateRequest {
		chain := pkitest.Leaf(t, ca, caKey, pub, now, now.Add(life))
		block, _ := pem.Decode(chain)
		leaf, _ := x509.ParseCertificate(block.Bytes)
		r := old.DeepCopy()
		r.Status = certificatesv1.PodCertificateRequestStatus{
			Conditions: []metav1.Condition{issued(now)}, CertificateChain: string(chain),
			NotBefore: ptr.To(metav1.NewTime(leaf.NotBefore)), NotAfter: ptr.To(metav1.NewTime(leaf.NotAfter)),
			BeginRefreshAt: ptr.To(metav1.NewTime(leaf.NotBefore.Add(life / 2))),
		}
		return r
	}
	good := issue(key.Public(), 2*time.Hour)
	if errs := ValidatePodCertificateRequestStatusUpdate(good, old, now); len(errs) != 0 {
		t.Fatalf("issued: %v", errs)
	}
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(issue(pkitest.Key(t).Public(), 2*time.Hour), old, now),
		vt.Invalid("status.certificateChain", "leaf certificate was not issued to the requested public key"))
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(issue(key.Public(), 30*time.Minute), old, now),
		vt.Invalid("status.certificateChain", "leaf certificate lifetime must be >= 1 hour"))
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(issue(key.Public(), 48*time.Hour), old, now),
		vt.Invalid("status.certificateChain", "leaf certificate lifetime must be <= spec.maxExpirationSeconds (86400)"))
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(good, old, now.Add(time.Hour)),
		vt.Invalid("status.notBefore", "must be set to within 5 minutes of kube-apiserver's current time"))
	early := good.DeepCopy()
	early.Status.BeginRefreshAt = ptr.To(metav1.NewTime(now.Add(time.Minute)))
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(early, old, now),
		vt.Invalid("status.beginRefreshAt", "must be at least 10 minutes after status.notBefore"))
	missing := good.DeepCopy()
	missing.Status.NotAfter, missing.Status.BeginRefreshAt = nil, nil
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(missing, old, now),
		vt.Required("status.notAfter"), vt.Required("status.beginRefreshAt"))

	denied := old.DeepCopy()
	denied.Status.Conditions = []metav1.Condition{{Type: "Denied", Status: metav1.ConditionTrue, Reason: "UnsupportedKeyType", LastTransitionTime: metav1.NewTime(now)}}
	if errs := ValidatePodCertificateRequestStatusUpdate(denied, old, now); len(errs) != 0 {
		t.Errorf("denied: %v", errs)
	}
	deniedWithChain := denied.DeepCopy()
	deniedWithChain.Status.CertificateChain = good.Status.CertificateChain
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(deniedWithChain, old, now),
		vt.Invalid("status", "non-condition status fields must be empty when denying or failing the PodCertificateRequest"))
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(good, denied, now),
		vt.Invalid("status", "immutable after PodCertificateRequest is issued, denied, or failed"))

	two := good.DeepCopy()
	two.Status.Conditions = append(two.Status.Conditions, denied.Status.Conditions...)
	vt.ExpectMessage(t, ValidatePodCertificateRequestStatusUpdate(two, old, now),
		`status.conditions.[1].type: Invalid value: "Denied": There may be at most one condition with type "Issued", "Denied", or "Failed"`)
	other := old.DeepCopy()
	other.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Working", LastTransitionTime: metav1.NewTime(now)}}
	vt.ExpectMessage(t, ValidatePodCertificateRequestStatusUpdate(other, old, now),
		`status.conditions.[0].type: Unsupported value: "Ready": supported values: "Issued", "Denied", "Failed"`)
	chainOnly := old.DeepCopy()
	chainOnly.Status.CertificateChain = good.Status.CertificateChain
	vt.Expect(t, ValidatePodCertificateRequestStatusUpdate(chainOnly, old, now),
		vt.Invalid("status", `status is immutable unless transitioning to "Issued", "Denied", or "Failed"`))
}
