package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestCertificateProjections: the pod's clusterTrustBundle and
// podCertificate projections are checked as upstream's (the lifetime bounds
// are what the PodCertificate conformance tests refuse pods for).
func TestCertificateProjections(t *testing.T) {
	cert := func(edit func(*corev1.PodCertificateProjection)) corev1.VolumeProjection {
		c := &corev1.PodCertificateProjection{SignerName: "example.com/pods", KeyType: "ED25519", CredentialBundlePath: "creds.pem"}
		if edit != nil {
			edit(c)
		}
		return corev1.VolumeProjection{PodCertificate: c}
	}
	bundle := func(edit func(*corev1.ClusterTrustBundleProjection)) corev1.VolumeProjection {
		b := &corev1.ClusterTrustBundleProjection{SignerName: ptr.To("example.com/pods"), LabelSelector: &metav1.LabelSelector{}, Path: "ca.pem"}
		if edit != nil {
			edit(b)
		}
		return corev1.VolumeProjection{ClusterTrustBundle: b}
	}
	for _, tc := range []struct {
		name string
		srcs []corev1.VolumeProjection
		want string // "" for valid
	}{
		{"a certificate and a bundle", []corev1.VolumeProjection{cert(nil), bundle(nil)}, ""},
		{"a day for a kubernetes.io signer", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) {
			c.SignerName, c.MaxExpirationSeconds = "kubernetes.io/pods", ptr.To[int32](86400)
		})}, ""},
		{"less than an hour", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) { c.MaxExpirationSeconds = ptr.To[int32](3599) })},
			"spec.volumes[0].projected.sources[0].podCertificate.maxExpirationSeconds: Invalid value: 3599: if provided, maxExpirationSeconds must be >= 3600"},
		{"more than 91 days", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) { c.MaxExpirationSeconds = ptr.To[int32](91*86400 + 1) })},
			"maxExpirationSeconds: Invalid value: 7862401: if provided, maxExpirationSeconds must be <= 7862400"},
		{"more than a day for a kubernetes.io signer", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) {
			c.SignerName, c.MaxExpirationSeconds = "kubernetes.io/pods", ptr.To[int32](86401)
		})}, "if provided, maxExpirationSeconds must be <= 86400"},
		{"an unknown key type", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) { c.KeyType = "DSA" })},
			`podCertificate.keyType: Unsupported value: "DSA": supported values: "RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"`},
		{"a user annotation without a domain", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) {
			c.UserAnnotations = map[string]string{"team": "blue"}
		})}, "podCertificate.userAnnotations: Invalid value: \"team\""},
		{"nowhere to write", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) { c.CredentialBundlePath = "" })},
			"specify at least one of credentialBundlePath, keyPath, and certificateChainPath"},
		{"a bundle by neither name nor signer", []corev1.VolumeProjection{bundle(func(b *corev1.ClusterTrustBundleProjection) { b.SignerName, b.LabelSelector = nil, nil })},
			"clusterTrustBundle: Required value: either name or signerName must be specified"},
		{"a bundle by name with a selector", []corev1.VolumeProjection{bundle(func(b *corev1.ClusterTrustBundleProjection) { b.SignerName, b.Name = nil, ptr.To("ca") })},
			"labelSelector must be unset if name is specified"},
		{"two sources at one path", []corev1.VolumeProjection{cert(func(c *corev1.PodCertificateProjection) { c.CredentialBundlePath = "ca.pem" }), bundle(nil)},
			"conflicting duplicate paths"},
	} {
		p := validPod()
		p.Spec.Volumes = []corev1.Volume{{Name: "certs", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: tc.srcs}}}}
		errs := ValidatePod(p)
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s: %v", tc.name, errs)
		case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
			t.Errorf("%s: %v, want %q", tc.name, errs, tc.want)
		}
	}
}
