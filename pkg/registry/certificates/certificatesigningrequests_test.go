package certificates

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	csrclient "k8s.io/client-go/kubernetes/typed/certificates/v1"

	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

// serve runs an API server of this group alone, in memory, and returns a
// client of its CSRs that is alice, in group devs (serveGroup).
func serve(t *testing.T) csrclient.CertificateSigningRequestInterface {
	t.Helper()
	return serveGroup(t).CertificatesV1().CertificateSigningRequests()
}

func request(t *testing.T, name, signer string, orgs ...string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: requestPEM(t, "alice", orgs...), SignerName: signer,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		},
	}
}

func condition(t certificatesv1.RequestConditionType) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: "Test"}
}

// TestCreateRecordsRequestor: the requester is who sent the request, not
// who the request says, and a new request has no status.
func TestCreateRecordsRequestor(t *testing.T) {
	csrs := serve(t)
	ctx := context.Background()
	in := request(t, "mine", certificatesv1.KubeAPIServerClientSignerName, "devs")
	in.Spec.Username, in.Spec.UID, in.Spec.Groups = "mallory", "u-1", []string{"system:masters"}
	in.Spec.Extra = map[string]certificatesv1.ExtraValue{"k": {"v"}}
	in.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateApproved)}
	out, err := csrs.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Spec; s.Username != "alice" || s.UID != "" || !slices.Equal(s.Groups, []string{"devs", "system:authenticated"}) || s.Extra != nil {
		t.Errorf("requestor %q uid %q groups %q extra %v, want alice in devs and system:authenticated", s.Username, s.UID, s.Groups, s.Extra)
	}
	if len(out.Status.Conditions) != 0 || out.Generation != 0 {
		t.Errorf("a new request is already %v (generation %d)", out.Status.Conditions, out.Generation)
	}
	list, err := csrs.List(ctx, metav1.ListOptions{FieldSelector: "spec.signerName=" + certificatesv1.KubeAPIServerClientSignerName})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("listed by signer: %v, %v", list, err)
	}
	if list, err := csrs.List(ctx, metav1.ListOptions{FieldSelector: "spec.signerName=example.com/other"}); err != nil || len(list.Items) != 0 {
		t.Errorf("listed by another signer: %v, %v", list, err)
	}
}

// TestSubjectRestriction: a client certificate for system:masters cannot be
// asked of the kube-apiserver-client signer, in upstream's words; other
// signers decide for themselves; and an invalid request is told it is
// invalid first.
func TestSubjectRestriction(t *testing.T) {
	csrs := serve(t)
	ctx := context.Background()
	_, err := csrs.Create(ctx, request(t, "admin-please", certificatesv1.KubeAPIServerClientSignerName, "devs", "system:masters"), metav1.CreateOptions{})
	const want = `certificatesigningrequests.certificates.k8s.io "admin-please" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("asking for system:masters: %v\nwant %s", err, want)
	}
	if _, err := csrs.Create(ctx, request(t, "elsewhere", "example.com/signer", "system:masters"), metav1.CreateOptions{}); err != nil {
		t.Errorf("asking another signer for system:masters: %v", err)
	}
	bad := request(t, "bad", certificatesv1.KubeAPIServerClientSignerName, "system:masters")
	bad.Spec.Usages = nil
	if _, err := csrs.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("an invalid request for system:masters: %v, want Invalid", err)
	}
}

// TestWritePaths: the resource changes metadata only, approval the
// conditions (and metadata), status the certificate and conditions other
// than Approved and Denied, each keeping the rest as stored.
func TestWritePaths(t *testing.T) {
	csrs := serve(t)
	ctx := context.Background()
	created, err := csrs.Create(ctx, request(t, "r", certificatesv1.KubeAPIServerClientSignerName), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The resource: labels change, spec and status do not.
	c := created.DeepCopy()
	c.Labels = map[string]string{"team": "a"}
	c.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}
	c.Spec.Username = "mallory"
	c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{condition(certificatesv1.CertificateApproved)}
	c.Status.Certificate = certificatePEM(t)
	updated, err := csrs.Update(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Labels["team"] != "a" || updated.Spec.Usages[0] != certificatesv1.UsageClientAuth || updated.Spec.Username != "alice" ||
		len(updated.Status.Conditions) != 0 || len(updated.Status.Certificate) != 0 {
		t.Errorf("after an update of the resource: labels %v, spec %+v, status %+v", updated.Labels, updated.Spec, updated.Status)
	}

	// Approval: the conditions and the metadata, stamped; not the certificate.
	patched, err := csrs.Patch(ctx, "r", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedapproval":"true"}},"status":{"conditions":[{"type":"ApprovalPatch","status":"True","reason":"e2e"}]}}`),
		metav1.PatchOptions{}, "approval")
	if err != nil {
		t.Fatal(err)
	}
	if len(patched.Status.Conditions) != 1 || patched.Status.Conditions[0].Type != "ApprovalPatch" || patched.Annotations["patchedapproval"] != "true" ||
		patched.Status.Conditions[0].LastUpdateTime.IsZero() || patched.Status.Conditions[0].LastTransitionTime.IsZero() {
		t.Errorf("after patching approval: %+v, annotations %v", patched.Status, patched.Annotations)
	}
	c = patched.DeepCopy()
	c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateApproved))
	c.Status.Certificate = certificatePEM(t)
	c.Spec.SignerName = "example.com/other"
	approved, err := csrs.UpdateApproval(ctx, "r", c, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(approved.Status.Conditions) != 2 || approved.Status.Conditions[1].Type != certificatesv1.CertificateApproved ||
		len(approved.Status.Certificate) != 0 || approved.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		t.Errorf("after approving: %+v, signer %s", approved.Status, approved.Spec.SignerName)
	}
	c = approved.DeepCopy()
	c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateDenied))
	if _, err := csrs.UpdateApproval(ctx, "r", c, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("denying an approved request: %v, want Invalid", err)
	}

	// Status: the certificate; the approval as stored.
	c = approved.DeepCopy()
	cert := certificatePEM(t)
	c.Status.Certificate = cert
	c.Status.Conditions[1].Message = "rewritten by the signer"
	c.Annotations["signed"] = "yes"
	issued, err := csrs.UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(issued.Status.Certificate) != string(cert) || issued.Status.Conditions[1].Message != "" || issued.Annotations["signed"] != "yes" {
		t.Errorf("after issuing: certificate set %v, approval %+v, annotations %v", len(issued.Status.Certificate) > 0, issued.Status.Conditions[1], issued.Annotations)
	}
	c = issued.DeepCopy()
	c.Status.Conditions = append(c.Status.Conditions, condition(certificatesv1.CertificateDenied))
	_, err = csrs.UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `updates may not add a condition of type "Denied"`) {
		t.Errorf("denying through status: %v", err)
	}
}

// TestStampConditions: a condition keeps its transition time while its
// status stays, and gets now when it is new or changed.
func TestStampConditions(t *testing.T) {
	then, now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), metav1.NewTime(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	old := []certificatesv1.CertificateSigningRequestCondition{
		{Type: "A", Status: corev1.ConditionTrue, LastTransitionTime: then, LastUpdateTime: then},
		{Type: "B", Status: corev1.ConditionFalse, LastTransitionTime: then},
	}
	given := metav1.NewTime(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	conditions := []certificatesv1.CertificateSigningRequestCondition{
		{Type: "A", Status: corev1.ConditionTrue},
		{Type: "B", Status: corev1.ConditionTrue},
		{Type: "C", Status: corev1.ConditionTrue, LastTransitionTime: given, LastUpdateTime: given},
	}
	stampConditions(conditions, old, now)
	for i, want := range [][2]metav1.Time{{now, then}, {now, now}, {given, given}} {
		if c := conditions[i]; !c.LastUpdateTime.Equal(&want[0]) || !c.LastTransitionTime.Equal(&want[1]) {
			t.Errorf("%s: updated %v, transitioned %v; want %v, %v", c.Type, c.LastUpdateTime, c.LastTransitionTime, want[0], want[1])
		}
	}
}

func requestPEM(t *testing.T, cn string, orgs ...string) []byte {
	_, req := pkitest.UserRequest(t, cn, orgs...)
	return req
}

func certificatePEM(t *testing.T) []byte {
	return pkitest.SelfSigned(t, "alice", time.Now().Add(time.Hour))
}
