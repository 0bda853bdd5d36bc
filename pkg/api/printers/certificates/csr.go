package certificates

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// CertificateSigningRequest prints NAME, AGE, SIGNERNAME, REQUESTOR (the
// user who created the request), REQUESTEDDURATION and CONDITION (Pending,
// Approved or Denied, then Failed and Issued when they apply), as `kubectl
// get csr` shows them.
func CertificateSigningRequest() printers.Printer {
	// Upstream describes the columns with the v1beta1 field documents.
	spec := certificatesv1beta1.CertificateSigningRequestSpec{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		printers.AgeColumn(),
		{Name: "SignerName", Type: "string", Description: spec["signerName"]},
		{Name: "Requestor", Type: "string", Description: spec["request"]},
		{Name: "RequestedDuration", Type: "string", Description: spec["expirationSeconds"]},
		{Name: "Condition", Type: "string", Description: certificatesv1beta1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"]},
	}, func(csr *certificatesv1.CertificateSigningRequest, now time.Time) []interface{} {
		signer, requested := "<none>", "<none>"
		if csr.Spec.SignerName != "" {
			signer = csr.Spec.SignerName
		}
		if s := csr.Spec.ExpirationSeconds; s != nil {
			requested = duration.HumanDuration(time.Duration(*s) * time.Second)
		}
		return []interface{}{csr.Name, printers.Age(csr.ObjectMeta, now), signer, csr.Spec.Username, requested, Condition(csr)}
	})
}

// Condition is a request's CONDITION cell: Denied wins over Approved, and
// a request that is neither is Pending.
func Condition(csr *certificatesv1.CertificateSigningRequest) string {
	has := map[certificatesv1.RequestConditionType]bool{}
	for _, c := range csr.Status.Conditions {
		has[c.Type] = true
	}
	s := "Pending"
	switch {
	case has[certificatesv1.CertificateDenied]:
		s = "Denied"
	case has[certificatesv1.CertificateApproved]:
		s = "Approved"
	}
	if has[certificatesv1.CertificateFailed] {
		s += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		s += ",Issued"
	}
	return s
}
