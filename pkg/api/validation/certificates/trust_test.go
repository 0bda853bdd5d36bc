package certificates

import (
	"encoding/pem"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	vt "github.com/skiffhq/skiff/pkg/api/validation/validationtest"
	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

func caPEM(t *testing.T) string {
	_, _, p := pkitest.CA(t, "root")
	return string(p)
}

func newBundle(t *testing.T, name, signer string) *certificatesv1.ClusterTrustBundle {
	return &certificatesv1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       certificatesv1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: caPEM(t)},
	}
}

// TestClusterTrustBundle: what a new bundle may not be, in upstream's words.
func TestClusterTrustBundle(t *testing.T) {
	for _, b := range []*certificatesv1.ClusterTrustBundle{newBundle(t, "plain", ""), newBundle(t, "example.com:foo:abc", "example.com/foo")} {
		b.Spec.TrustBundle = "leading text\n" + b.Spec.TrustBundle + "\n" + caPEM(t)
		if errs := ValidateClusterTrustBundle(b); len(errs) != 0 {
			t.Errorf("a good bundle %q: %v", b.Name, errs)
		}
	}
	a := caPEM(t)
	leaf := string(pkitest.SelfSigned(t, "leaf", time.Now().Add(time.Hour)))
	for _, tc := range []struct {
		name   string
		bundle *certificatesv1.ClusterTrustBundle
		change func(*certificatesv1.ClusterTrustBundle)
		want   []vt.Err
	}{
		{"no signer, a colon in the name", newBundle(t, "a:b", ""), nil,
			[]vt.Err{vt.Invalid("metadata.name", `ClusterTrustBundle without signer name must not have ":" in its name`)}},
		{"a signer, not its prefix", newBundle(t, "foo", "example.com/foo"), nil,
			[]vt.Err{vt.Invalid("metadata.name", "ClusterTrustBundle for signerName example.com/foo must be named with prefix example.com:foo:")}},
		{"a signer, a bad rest of the name", newBundle(t, "example.com:foo:ABC", "example.com/foo"), nil,
			[]vt.Err{vt.Invalid("metadata.name", "a lowercase RFC 1123 subdomain")}},
		{"a bad signer", newBundle(t, "example:abc", "example"), nil,
			[]vt.Err{vt.Invalid("spec.signerName", "must be a fully qualified domain and path of the form 'example.com/signer-name'")}},
		{"empty", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) { b.Spec.TrustBundle = "" },
			[]vt.Err{vt.Invalid("spec.trustBundle", "at least one trust anchor must be provided")}},
		{"not PEM", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) { b.Spec.TrustBundle = "hello" },
			[]vt.Err{vt.Invalid("spec.trustBundle", "at least one trust anchor must be provided")}},
		{"a duplicate", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) { b.Spec.TrustBundle = a + caPEM(t) + a },
			[]vt.Err{vt.Invalid("spec.trustBundle", "duplicate trust anchor (indices [0 2])")}},
		{"a key", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) {
			b.Spec.TrustBundle = a + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}))
		}, []vt.Err{vt.Invalid("spec.trustBundle", "entry 1 has bad block type: PRIVATE KEY")}},
		{"headers", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) {
			block, _ := pem.Decode([]byte(a))
			block.Headers = map[string]string{"Proc-Type": "4,ENCRYPTED"}
			b.Spec.TrustBundle = string(pem.EncodeToMemory(block))
		}, []vt.Err{vt.Invalid("spec.trustBundle", "entry 0 has PEM block headers")}},
		{"garbage in a block", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) {
			b.Spec.TrustBundle = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}))
		}, []vt.Err{vt.Invalid("spec.trustBundle", "entry 0 does not parse as X.509")}},
		{"not a CA", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) { b.Spec.TrustBundle = a + leaf },
			[]vt.Err{vt.Invalid("spec.trustBundle", "entry 1 does not have the CA bit set")}},
		{"too big", newBundle(t, "plain", ""), func(b *certificatesv1.ClusterTrustBundle) {
			b.Spec.TrustBundle = a + strings.Repeat("x", MaxTrustBundleSize)
		}, []vt.Err{vt.TooLong("spec.trustBundle")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				tc.change(tc.bundle)
			}
			vt.Expect(t, ValidateClusterTrustBundle(tc.bundle), tc.want...)
		})
	}
	b := newBundle(t, "plain", "")
	b.Spec.TrustBundle = a + a
	vt.ExpectMessage(t, ValidateClusterTrustBundle(b), "spec.trustBundle: Invalid value: \"<value omitted>\": duplicate trust anchor (indices [0 1])")
}

// TestClusterTrustBundleUpdate: the signer stays; a stored bundle that no
// longer parses takes writes that leave it alone.
func TestClusterTrustBundleUpdate(t *testing.T) {
	old := newBundle(t, "example.com:foo:abc", "example.com/foo")
	old.ObjectMeta = vt.Stored(old.ObjectMeta)
	b := old.DeepCopy()
	b.Labels = map[string]string{"a": "b"}
	if errs := ValidateClusterTrustBundleUpdate(b, old); len(errs) != 0 {
		t.Errorf("a label: %v", errs)
	}
	b.Spec.SignerName = "example.com/bar"
	vt.Expect(t, ValidateClusterTrustBundleUpdate(b, old),
		vt.Invalid("spec.signerName", "field is immutable"),
		vt.Invalid("metadata.name", "must be named with prefix example.com:bar:"))

	old.Spec.TrustBundle = "not parsed any more"
	b = old.DeepCopy()
	b.Labels = map[string]string{"a": "b"}
	if errs := ValidateClusterTrustBundleUpdate(b, old); len(errs) != 0 {
		t.Errorf("a label on a bundle that no longer parses: %v", errs)
	}
	b.Spec.TrustBundle += " still"
	vt.Expect(t, ValidateClusterTrustBundleUpdate(b, old), vt.Invalid("spec.trustBundle", "at least one trust anchor"))
}
