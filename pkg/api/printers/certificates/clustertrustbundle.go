package certificates

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// ClusterTrustBundle prints NAME and SIGNERNAME (<none> for a bundle of no
// signer), as `kubectl get clustertrustbundles` shows them: upstream prints
// no AGE for this kind.
func ClusterTrustBundle() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "SignerName", Type: "string", Description: certificatesv1.ClusterTrustBundleSpec{}.SwaggerDoc()["signerName"]},
	}, func(b *certificatesv1.ClusterTrustBundle, _ time.Time) []interface{} {
		signer := "<none>"
		if b.Spec.SignerName != "" {
			signer = b.Spec.SignerName
		}
		return []interface{}{b.Name, signer}
	})
}
