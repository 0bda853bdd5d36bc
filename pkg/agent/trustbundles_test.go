package agent

import (
	"context"
	"encoding/pem"
	"sort"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

// TestTrustBundleFiles: a clusterTrustBundle source shows the anchors of the
// bundle it names, or of the signer's bundles its selector matches (nil
// matches none, empty all), each certificate once, in an order that does
// not change between reads; what is missing is an empty file when optional
// and upstream's error otherwise.
func TestTrustBundleFiles(t *testing.T) {
	_, _, ca1 := pkitest.CA(t, "one")
	_, _, ca2 := pkitest.CA(t, "two")
	_, _, ca3 := pkitest.CA(t, "three")
	ctb := func(name, signer string, labels map[string]string, pems ...[]byte) *certificatesv1.ClusterTrustBundle {
		var b []byte
		for _, p := range pems {
			b = append(b, "some text between blocks\n"...)
			b = append(b, p...)
		}
		return &certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: string(b)}}
	}
	a := &Agent{client: fake.NewClientset(
		ctb("plain", "", nil, ca1),
		ctb("example.com:signer:live", "example.com/signer", map[string]string{"state": "live"}, ca1, ca2),
		ctb("example.com:signer:dead", "example.com/signer", map[string]string{"state": "dead"}, ca2, ca3),
		ctb("other.com:signer:live", "other.com/signer", map[string]string{"state": "live"}, ca3),
	)}
	certs := func(pems ...[]byte) []string {
		var out []string
		for _, p := range pems {
			b, _ := pem.Decode(p)
			out = append(out, string(b.Bytes))
		}
		sort.Strings(out)
		return out
	}
	for _, tc := range []struct {
		name    string
		src     corev1.ClusterTrustBundleProjection
		want    []string // DER of the certificates, sorted
		wantErr string
	}{
		{name: "by name", src: corev1.ClusterTrustBundleProjection{Name: ptr.To("plain")}, want: certs(ca1)},
		{name: "missing name", src: corev1.ClusterTrustBundleProjection{Name: ptr.To("nope")},
			wantErr: `while getting ClusterTrustBundle: clustertrustbundles.certificates.k8s.io "nope" not found`},
		{name: "missing name, optional", src: corev1.ClusterTrustBundleProjection{Name: ptr.To("nope"), Optional: ptr.To(true)}, want: nil},
		{name: "signer and selector", src: corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/signer"),
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"state": "live"}}}, want: certs(ca1, ca2)},
		{name: "empty selector: all of the signer, deduplicated", src: corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/signer"),
			LabelSelector: &metav1.LabelSelector{}}, want: certs(ca1, ca2, ca3)},
		{name: "nil selector matches nothing", src: corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/signer")},
			wantErr: "combination of signerName and labelSelector matched zero ClusterTrustBundles"},
		{name: "nil selector, optional", src: corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/signer"), Optional: ptr.To(true)}, want: nil},
		{name: "selector matching nothing", src: corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/signer"),
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"thismatches": "nothing"}}},
			wantErr: "combination of signerName and labelSelector matched zero ClusterTrustBundles"},
		{name: "neither", src: corev1.ClusterTrustBundleProjection{},
			wantErr: "ClusterTrustBundle projection requires either name or signerName to be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.src.Path = "ca.pem"
			files, err := a.trustBundleFiles(context.Background(), &tc.src)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !isConfigError(err) {
					t.Fatalf("error %v, want the configuration error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(files) != 1 || files[0].path != "ca.pem" {
				t.Fatalf("files %v, err %v", files, err)
			}
			if tc.want == nil && string(files[0].data) != "" {
				t.Fatalf("optional and missing: %q, want an empty file", files[0].data)
			}
			var got []string
			rest := files[0].data
			for {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
					t.Errorf("block %q with headers %v", b.Type, b.Headers)
				}
				got = append(got, string(b.Bytes))
			}
			if strings.TrimSpace(string(rest)) != "" {
				t.Errorf("text left after the blocks: %q", rest)
			}
			sorted := append([]string{}, got...)
			sort.Strings(sorted)
			if strings.Join(sorted, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %d certificates, want %d (%d distinct)", len(got), len(tc.want), len(tc.want))
			}
			again, _ := a.trustBundleFiles(context.Background(), &tc.src)
			if string(again[0].data) != string(files[0].data) {
				t.Errorf("a second read gave another order")
			}
		})
	}
}
