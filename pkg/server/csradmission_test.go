package server

import (
	"context"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/auth/rbac"
)

// grant binds user to a ClusterRole allowing verb on the signers named.
func grant(t *testing.T, a *rbac.Authorizer, user, verb string, signers ...string) {
	t.Helper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user + "-" + verb}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{verb}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"signers"}, ResourceNames: signers}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-" + verb},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: user}}}
	for _, obj := range []any{role, binding} {
		if err := a.Add(obj); err != nil {
			t.Fatal(err)
		}
	}
}

func as(name string, groups ...string) context.Context {
	return apiserver.WithUser(context.Background(), apiserver.User{Name: name, Groups: append(groups, "system:authenticated")})
}

func signingRequest(signer string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signer}}
}

// TestCSRApproval: approving takes "approve" on the request's signer, by
// name or by its domain, as upstream's CertificateApproval admission; a
// refusal is in upstream's words.
func TestCSRApproval(t *testing.T) {
	a := rbac.New()
	grant(t, a, "bob", "approve", "kubernetes.io/kube-apiserver-client")
	grant(t, a, "carol", "approve", "kubernetes.io/*")
	grant(t, a, "dave", "sign", "kubernetes.io/kube-apiserver-client")
	adm := csrAdmission{authz: a}
	client, serving, other := certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeletServingSignerName, "example.com/signer"
	for _, tc := range []struct {
		ctx    context.Context
		signer string
		ok     bool
	}{
		{as("alice", "devs"), client, false},
		{as("bob"), client, true},
		{as("bob"), serving, false},
		{as("carol"), serving, true},
		{as("carol"), other, false},
		{as("dave"), client, false}, // signing is not approving
		{as("admin", "system:masters"), other, true},
		{context.Background(), client, false},
	} {
		stored := signingRequest(tc.signer)
		obj := stored.DeepCopy()
		obj.Spec.SignerName = other // a write cannot move the request to another signer
		err := adm.approve(tc.ctx, nil, obj, stored)
		user, _ := apiserver.UserFrom(tc.ctx)
		if (err == nil) != tc.ok {
			t.Errorf("%s approving for %s: %v, want allowed %v", user.Name, tc.signer, err, tc.ok)
		}
		if err != nil && (!apierrors.IsForbidden(err) ||
			err.Error() != `certificatesigningrequests.certificates.k8s.io "r" is forbidden: user not permitted to approve requests with signerName "`+tc.signer+`"`) {
			t.Errorf("%s approving for %s: %v", user.Name, tc.signer, err)
		}
	}
}

// TestCSRSigning: issuing a certificate or changing conditions through
// status takes "sign" on the signer; other status writes do not.
func TestCSRSigning(t *testing.T) {
	a := rbac.New()
	grant(t, a, "dave", "sign", "kubernetes.io/kube-apiserver-client")
	adm := csrAdmission{authz: a}
	stored := signingRequest(certificatesv1.KubeAPIServerClientSignerName)

	labelled := stored.DeepCopy()
	labelled.Labels = map[string]string{"a": "b"}
	if err := adm.sign(as("alice"), nil, labelled, stored); err != nil {
		t.Errorf("a status write that changes no status: %v", err)
	}
	issued := stored.DeepCopy()
	issued.Status.Certificate = []byte("cert")
	err := adm.sign(as("alice"), nil, issued, stored)
	if !apierrors.IsForbidden(err) || err.Error() != `certificatesigningrequests.certificates.k8s.io "r" is forbidden: user not permitted to sign requests with signerName "kubernetes.io/kube-apiserver-client"` {
		t.Errorf("alice issuing: %v", err)
	}
	failed := stored.DeepCopy()
	failed.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateFailed, Status: "True"}}
	if err := adm.sign(as("alice"), nil, failed, stored); !apierrors.IsForbidden(err) {
		t.Errorf("alice failing a request: %v", err)
	}
	for _, ctx := range []context.Context{as("dave"), as("system:apiserver", "system:masters")} {
		if err := adm.sign(ctx, nil, issued, stored); err != nil {
			t.Errorf("issuing: %v", err)
		}
	}
}
