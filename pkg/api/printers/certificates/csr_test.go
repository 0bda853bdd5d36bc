package certificates

import (
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestCertificateSigningRequest(t *testing.T) {
	p := CertificateSigningRequest()
	printerstest.ExpectColumns(t, p, []string{"Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"})
	printerstest.CheckRows(t, p, &certificatesv1.CertificateSigningRequest{})

	cond := func(types ...certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
		var out []certificatesv1.CertificateSigningRequestCondition
		for _, ty := range types {
			out = append(out, certificatesv1.CertificateSigningRequestCondition{Type: ty, Status: corev1.ConditionTrue})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		csr    certificatesv1.CertificateSigningRequest
		signer string
		dur    string
		status string
	}{
		{"pending", certificatesv1.CertificateSigningRequest{}, "<none>", "<none>", "Pending"},
		{"approved and issued", certificatesv1.CertificateSigningRequest{
			Spec:   certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kube-apiserver-client", ExpirationSeconds: ptr.To[int32](3600)},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: cond("Custom", certificatesv1.CertificateApproved), Certificate: []byte("x")},
		}, "kubernetes.io/kube-apiserver-client", "60m", "Approved,Issued"},
		{"approved and failed", certificatesv1.CertificateSigningRequest{
			Spec:   certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/s", ExpirationSeconds: ptr.To[int32](86400 * 3)},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: cond(certificatesv1.CertificateFailed, certificatesv1.CertificateApproved)},
		}, "example.com/s", "3d", "Approved,Failed"},
		{"denied wins", certificatesv1.CertificateSigningRequest{
			Spec:   certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/s", ExpirationSeconds: ptr.To[int32](600)},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: cond(certificatesv1.CertificateApproved, certificatesv1.CertificateDenied)},
		}, "example.com/s", "10m", "Denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr := tc.csr
			csr.ObjectMeta = printerstest.ObjectMeta("csr-1", 2*time.Hour)
			csr.Namespace = ""
			csr.Spec.Username = "alice"
			printerstest.AssertCells(t, p, &csr, []interface{}{"csr-1", "120m", tc.signer, "alice", tc.dur, tc.status})
		})
	}
}
