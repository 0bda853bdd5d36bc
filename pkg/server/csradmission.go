package server

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/auth/rbac"
)

// csrAdmission is upstream's CertificateApproval and CertificateSigning
// admission: who may approve (or deny) a certificate signing request, and
// who may issue its certificate, is decided per signer, by the verbs
// "approve" and "sign" on the resource "signers" of certificates.k8s.io,
// named after the signer ("kubernetes.io/kube-apiserver-client") or its
// whole domain ("kubernetes.io/*"). Writing the subresource itself takes
// update on certificatesigningrequests/approval or /status besides.
type csrAdmission struct {
	authz *rbac.Authorizer
}

// guardCSRs makes writes to certificate signing requests' approval and
// status subresources take "approve" and "sign" on their signer
// (csrAdmission), and guards the group's other kinds alike (guardTrust).
func guardCSRs(reg *apiserver.Registry, a *rbac.Authorizer) {
	guardTrust(reg, a)
	res := reg.Lookup(certificatesv1.SchemeGroupVersion.String(), "certificatesigningrequests")
	if res == nil {
		return
	}
	adm := csrAdmission{authz: a}
	res.AdmitStatusUpdate = adm.sign
	for i := range res.Subresources {
		if sub := &res.Subresources[i]; sub.Name == "approval" && sub.Part != nil {
			sub.Part.Admit = adm.approve
		}
	}
}

var csrResource = certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests").GroupResource()

// approve admits a write to a request's approval subresource when its
// writer may approve for the request's signer, as it was stored: the write
// cannot move the request to a signer the writer approves for.
func (c csrAdmission) approve(ctx context.Context, _ apiserver.View, _, old runtime.Object) error {
	stored := old.(*certificatesv1.CertificateSigningRequest)
	if c.mayForSigner(ctx, "approve", stored.Spec.SignerName) {
		return nil
	}
	return apierrors.NewForbidden(csrResource, stored.Name,
		fmt.Errorf("user not permitted to approve requests with signerName %q", stored.Spec.SignerName))
}

// sign admits a write to a request's status subresource that changes its
// certificate or conditions when its writer may sign for the request's
// signer; a write that changes neither (labels) needs no such right.
func (c csrAdmission) sign(ctx context.Context, _ apiserver.View, obj, old runtime.Object) error {
	csr, stored := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	if bytes.Equal(csr.Status.Certificate, stored.Status.Certificate) && apiequality.Semantic.DeepEqual(csr.Status.Conditions, stored.Status.Conditions) {
		return nil
	}
	if c.mayForSigner(ctx, "sign", stored.Spec.SignerName) {
		return nil
	}
	return apierrors.NewForbidden(csrResource, stored.Name,
		fmt.Errorf("user not permitted to sign requests with signerName %q", stored.Spec.SignerName))
}

// mayForSigner reports whether the request's user may do verb for signer:
// by name, or by the signer's domain and "/*". system:masters may do
// everything, as upstream's authorizer chain lets it.
func (c csrAdmission) mayForSigner(ctx context.Context, verb, signer string) bool {
	user, ok := apiserver.UserFrom(ctx)
	if !ok {
		return false
	}
	if slices.Contains(user.Groups, apiserver.MastersGroup) {
		return true
	}
	domain, _, _ := strings.Cut(signer, "/")
	for _, name := range []string{signer, domain + "/*"} {
		if c.authz.Authorize(&rbac.Attributes{User: user.Name, Groups: user.Groups, Verb: verb, ResourceRequest: true,
			APIGroup: certificatesv1.GroupName, Resource: "signers", Name: name}).Allowed {
			return true
		}
	}
	return false
}
