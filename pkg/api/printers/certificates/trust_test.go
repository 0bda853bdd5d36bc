package certificates

import (
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestClusterTrustBundle(t *testing.T) {
	p := ClusterTrustBundle()
	printerstest.ExpectColumns(t, p, []string{"Name", "SignerName"})
	printerstest.CheckRows(t, p, &certificatesv1.ClusterTrustBundle{})
	b := &certificatesv1.ClusterTrustBundle{ObjectMeta: printerstest.ObjectMeta("plain", time.Hour)}
	b.Namespace = ""
	printerstest.AssertCells(t, p, b, []interface{}{"plain", "<none>"})
	b.Name, b.Spec.SignerName = "example.com:foo:abc", "example.com/foo"
	printerstest.AssertCells(t, p, b, []interface{}{"example.com:foo:abc", "example.com/foo"})
}

func TestPodCertificateRequest(t *testing.T) {
	p := PodCertificateRequest()
	printerstest.ExpectColumns(t, p, []string{"Name", "PodName", "ServiceAccountName", "NodeName", "SignerName", "State", "UnverifiedUserAnnotations"})
	printerstest.CheckRows(t, p, &certificatesv1.PodCertificateRequest{})
	r := &certificatesv1.PodCertificateRequest{
		ObjectMeta: printerstest.ObjectMeta("req-1", time.Hour),
		Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName: "example.com/s", PodName: "web", ServiceAccountName: "robot", NodeName: "n1",
			UnverifiedUserAnnotations: map[string]string{"example.com/b": "2", "example.com/a": "1"},
		},
	}
	printerstest.AssertCells(t, p, r, []interface{}{"req-1", "web", "robot", "n1", "example.com/s", "Pending", "example.com/a=1,example.com/b=2"})
	r.Spec.UnverifiedUserAnnotations = nil
	r.Status.Conditions = []metav1.Condition{{Type: "Other", Status: metav1.ConditionTrue}, {Type: certificatesv1.PodCertificateRequestConditionTypeDenied, Status: metav1.ConditionTrue}}
	printerstest.AssertCells(t, p, r, []interface{}{"req-1", "web", "robot", "n1", "example.com/s", "Denied", "<none>"})
}
