package server

import (
	"context"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/auth/rbac"
)

// guardTrust is upstream's ClusterTrustBundleAttest admission and the sign
// check of its PodCertificateRequest status strategy: publishing a signer's
// trust bundle takes "attest" on the signer, and answering a pod
// certificate request takes "sign" on its signer, as csrAdmission asks.
func guardTrust(reg *apiserver.Registry, a *rbac.Authorizer) {
	adm := csrAdmission{authz: a}
	if res := reg.Lookup(certificatesv1.SchemeGroupVersion.String(), "clustertrustbundles"); res != nil {
		res.BeforeCreate = func(ctx context.Context, _ apiserver.View, obj runtime.Object) error {
			return adm.attest(ctx, obj.(*certificatesv1.ClusterTrustBundle))
		}
		// Upstream checks after validation; Skiff's last hook of an update
		// with the user is before it, which only changes which of two
		// refusals a bad write gets first.
		res.AdmitUpdate = func(ctx context.Context, _ apiserver.View, obj, old runtime.Object) error {
			if onlyGCFields(obj, old) {
				return nil // the garbage collector's writes, and storage migration
			}
			return adm.attest(ctx, obj.(*certificatesv1.ClusterTrustBundle))
		}
	}
	if res := reg.Lookup(certificatesv1.SchemeGroupVersion.String(), "podcertificaterequests"); res != nil {
		res.AdmitStatusUpdate = adm.signPod
	}
}

var (
	ctbResource = certificatesv1.SchemeGroupVersion.WithResource("clustertrustbundles").GroupResource()
	pcrKind     = certificatesv1.SchemeGroupVersion.WithKind("PodCertificateRequest").GroupKind()
)

// attest admits a bundle of no signer, or one whose writer may attest for
// its signer. The new object's signer is the one to check: validation keeps
// an update from changing it.
func (c csrAdmission) attest(ctx context.Context, b *certificatesv1.ClusterTrustBundle) error {
	if b.Spec.SignerName == "" || c.mayForSigner(ctx, "attest", b.Spec.SignerName) {
		return nil
	}
	return apierrors.NewForbidden(ctbResource, b.Name, fmt.Errorf("user not permitted to attest for signerName %q", b.Spec.SignerName))
}

// signPod admits a write to a pod certificate request's status that changes
// it when its writer may sign for the request's signer. Upstream refuses in
// validation, so the refusal is an Invalid with a Forbidden field error.
func (c csrAdmission) signPod(ctx context.Context, _ apiserver.View, obj, old runtime.Object) error {
	r, stored := obj.(*certificatesv1.PodCertificateRequest), old.(*certificatesv1.PodCertificateRequest)
	if apiequality.Semantic.DeepEqual(r.Status, stored.Status) || c.mayForSigner(ctx, "sign", stored.Spec.SignerName) {
		return nil
	}
	user, _ := apiserver.UserFrom(ctx)
	return apierrors.NewInvalid(pcrKind, stored.Name, field.ErrorList{field.Forbidden(field.NewPath("spec", "signerName"),
		fmt.Sprintf("User %q is not permitted to \"sign\" for signer %q", user.Name, stored.Spec.SignerName))})
}
