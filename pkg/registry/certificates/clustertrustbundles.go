package certificates

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	printers "github.com/skiffhq/skiff/pkg/api/printers/certificates"
	validation "github.com/skiffhq/skiff/pkg/api/validation/certificates"
	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/registry/kind"
)

func init() { kinds.Add(clusterTrustBundles) }

type ctb = certificatesv1.ClusterTrustBundle

// clusterTrustBundles are the trust anchors pods mount, each set of no
// signer or of one signer. Who may publish a signer's set (attest for it)
// is admission's business, which the server wires in.
func clusterTrustBundles(kind.Options) *apiserver.Resource {
	r := kind.Base(v1.WithKind("ClusterTrustBundle"), "clustertrustbundles", "clustertrustbundle", false,
		func() runtime.Object { return &ctb{} }, func() runtime.Object { return &certificatesv1.ClusterTrustBundleList{} },
		printers.ClusterTrustBundle())
	r.RequireResourceVersion = true
	r.Fields = func(obj runtime.Object) fields.Set {
		return fields.Set{"spec.signerName": obj.(*ctb).Spec.SignerName}
	}
	kind.Hooks[*ctb]{
		Validate:       validation.ValidateClusterTrustBundle,
		ValidateUpdate: validation.ValidateClusterTrustBundleUpdate,
	}.Install(r)
	return r
}
