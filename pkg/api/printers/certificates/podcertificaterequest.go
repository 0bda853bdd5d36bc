package certificates

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// PodCertificateRequest prints NAME, PODNAME, SERVICEACCOUNTNAME, NODENAME,
// SIGNERNAME, STATE (Pending, Issued, Denied or Failed) and
// UNVERIFIEDUSERANNOTATIONS (key=value,...), as `kubectl get
// podcertificaterequests` shows them.
func PodCertificateRequest() printers.Printer {
	spec := certificatesv1.PodCertificateRequestSpec{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "PodName", Type: "string", Description: spec["podName"]},
		{Name: "ServiceAccountName", Type: "string", Description: spec["serviceAccountName"]},
		{Name: "NodeName", Type: "string", Description: spec["nodeName"]},
		{Name: "SignerName", Type: "string", Description: spec["signerName"]},
		{Name: "State", Type: "string", Description: "Is the request Pending, Issued, Denied, or Failed?"},
		{Name: "UnverifiedUserAnnotations", Type: "string", Description: spec["unverifiedUserAnnotations"]},
	}, func(r *certificatesv1.PodCertificateRequest, _ time.Time) []interface{} {
		return []interface{}{r.Name, r.Spec.PodName, r.Spec.ServiceAccountName, string(r.Spec.NodeName), r.Spec.SignerName,
			PodCertificateRequestState(r), labels.FormatLabels(r.Spec.UnverifiedUserAnnotations)}
	})
}

// PodCertificateRequestState is a request's STATE cell: the last of its
// Issued, Denied and Failed conditions (validation allows one at most), or
// Pending.
func PodCertificateRequestState(r *certificatesv1.PodCertificateRequest) string {
	state := "Pending"
	for _, c := range r.Status.Conditions {
		switch c.Type {
		case certificatesv1.PodCertificateRequestConditionTypeIssued, certificatesv1.PodCertificateRequestConditionTypeDenied,
			certificatesv1.PodCertificateRequestConditionTypeFailed:
			state = c.Type
		}
	}
	return state
}
