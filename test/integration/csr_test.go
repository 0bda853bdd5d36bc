package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/cert"
	csrutil "k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"

	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/pki/pkitest"
	"github.com/skiffhq/skiff/test/harness"
)

// newKeyAndRequest makes what `openssl req -new` makes for a user: a private
// key and a certificate signing request for CN cn in groups orgs, both PEM.
func newKeyAndRequest(t *testing.T, cn string, orgs ...string) (keyPEM, reqPEM []byte) {
	t.Helper()
	return pkitest.UserRequest(t, cn, orgs...)
}

// csrManifest is the CertificateSigningRequest of Kubernetes' documentation
// for a user's client certificate, valid for a day.
func csrManifest(name string, req []byte) string {
	return `apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: ` + name + `
spec:
  request: ` + base64.StdEncoding.EncodeToString(req) + `
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 86400
  usages:
  - client auth
`
}

// certificateKubeconfig writes a kubeconfig for the cluster with a client
// certificate and key, as an admin hands one to its user.
func certificateKubeconfig(t *testing.T, c *harness.Cluster, certPEM, keyPEM []byte) string {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, path := filepath.Join(dir, "user.crt"), filepath.Join(dir, "user.key"), filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(c.DataDir, "server", "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteKubeconfig(path, c.Config.Host, caPEM, certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitForCertificate waits for the signer to issue name's certificate.
func waitForCertificate(t *testing.T, c *harness.Cluster, name string) []byte {
	t.Helper()
	var last *certificatesv1.CertificateSigningRequest
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		csr, err := c.Client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(csr.Status.Certificate) > 0 {
			return csr.Status.Certificate
		}
		last = csr
	}
	t.Fatalf("no certificate for %s: %+v", name, last.Status)
	return nil
}

// TestCSRIssuesUserCertificates: an admin issues a user's client
// certificate the upstream way with every kubectl: the user's request is
// created, `kubectl certificate approve`d and signed by the cluster CA, and
// the certificate makes the user who the request named, whose roles then
// apply. A denied request gets no certificate, and a request for
// system:masters is refused in upstream's words.
func TestCSRIssuesUserCertificates(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().Roles("team").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().RoleBindings("team").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-reads-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const signer = "kubernetes.io/kube-apiserver-client"
	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			v := strings.ReplaceAll(k.Version, ".", "-")
			run := func(stdin string, args ...string) string { t.Helper(); return c.MustRun(t, k, stdin, args...) }
			name, denied, root := "alice-"+v, "mallory-"+v, "root-"+v

			mustContain(t, "explain", run("", "explain", "csr.spec.signerName"), "CertificateSigningRequest", "signerName", "requested signer")

			key, req := newKeyAndRequest(t, "alice", "devs")
			mustContain(t, "create", run(csrManifest(name, req), "create", "-f", "-"), "certificatesigningrequest.certificates.k8s.io/"+name+" created")
			out := run("", "get", "csr", name)
			if !hasLine(out, "NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION") ||
				!hasRowAroundAge(out, []string{name}, []string{signer, "system:admin", "24h", "Pending"}) {
				t.Errorf("get csr before approval:\n%s", out)
			}
			mustContain(t, "approve", run("", "certificate", "approve", name), "certificatesigningrequest.certificates.k8s.io/"+name+" approved")
			certPEM := waitForCertificate(t, c, name)
			if out := run("", "get", "csr", name); !hasRowAroundAge(out, []string{name}, []string{signer, "system:admin", "24h", "Approved,Issued"}) {
				t.Errorf("get csr once issued:\n%s", out)
			}
			// What an admin hands the user, read as kubectl reads it.
			issued, err := base64.StdEncoding.DecodeString(run("", "get", "csr", name, "-o", "jsonpath={.status.certificate}"))
			if err != nil || string(issued) != string(certPEM) {
				t.Fatalf("the certificate through jsonpath: %v", err)
			}
			alice := certificateKubeconfig(t, c, issued, key)
			as := func(args ...string) (string, string, error) {
				return c.Run(k, "", append([]string{"--kubeconfig", alice}, args...)...)
			}
			// kubectl auth whoami (authentication.k8s.io/v1 from kubectl 1.28).
			if k.Version != "1.27" {
				out, errOut, err := as("auth", "whoami")
				if err != nil || !hasLine(out, "Username", "alice") || !hasLine(out, "Groups", "[devs", "system:authenticated]") {
					t.Errorf("auth whoami with the issued certificate: %v\n%s%s", err, out, errOut)
				}
			}
			if out, errOut, err := as("get", "pods", "-n", "team"); err != nil || !strings.Contains(out+errOut, "No resources found in team namespace.") {
				t.Errorf("alice lists pods in team: %v\n%s%s", err, out, errOut)
			}
			_, errOut, err := as("get", "pods", "-n", "default")
			const refused = `Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"`
			if err == nil || strings.TrimSpace(errOut) != refused {
				t.Errorf("alice lists pods in default: %v\n%s", err, errOut)
			}

			_, req = newKeyAndRequest(t, "mallory", "devs")
			run(csrManifest(denied, req), "create", "-f", "-")
			mustContain(t, "deny", run("", "certificate", "deny", denied), "certificatesigningrequest.certificates.k8s.io/"+denied+" denied")
			_, errOut, err = c.Run(k, "", "certificate", "approve", denied)
			if err == nil || !strings.Contains(errOut, `certificate signing request "`+denied+`" is already Denied`) {
				t.Errorf("approving a denied request: %v\n%s", err, errOut)
			}
			// The signer has had time enough: it signed alice's in less.
			time.Sleep(time.Second)
			if out := run("", "get", "csr", denied); !hasRowAroundAge(out, []string{denied}, []string{signer, "system:admin", "24h", "Denied"}) {
				t.Errorf("get csr of a denied request:\n%s", out)
			}

			_, req = newKeyAndRequest(t, "root", "devs", "system:masters")
			_, errOut, err = c.Run(k, csrManifest(root, req), "create", "-f", "-")
			want := `Error from server (Forbidden): error when creating "STDIN": certificatesigningrequests.certificates.k8s.io "` + root +
				`" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`
			if err == nil || strings.TrimSpace(errOut) != want {
				t.Errorf("a request for system:masters: %v\n%s\nwant %s", err, errOut, want)
			}
		})
	}
}

// TestCSRApprovalNeedsApproveOnSigner: a user who may update requests'
// approval may approve only for the signers they may "approve" for, by name
// or by domain, and is refused in upstream's words otherwise.
func TestCSRApprovalNeedsApproveOnSigner(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	rbac := c.Client.RbacV1()
	if _, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-approval-writer"},
		Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{certificatesv1.GroupName}, Resources: []string{"certificatesigningrequests"}},
			{Verbs: []string{"update"}, APIGroups: []string{certificatesv1.GroupName}, Resources: []string{"certificatesigningrequests/approval"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(name, role, user string) {
		t.Helper()
		if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: user}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bind("bob-writes-approval", "csr-approval-writer", "bob")
	bind("carol-writes-approval", "csr-approval-writer", "carol")
	// The default policy's approver role for the signer.
	bind("carol-approves", "system:certificates.k8s.io:kube-apiserver-client-approver", "carol")
	bob, carol := userKubeconfig(t, c, "bob"), userKubeconfig(t, c, "carol")

	for _, k := range allKubectls(t) {
		t.Run("kubectl-"+k.Version, func(t *testing.T) {
			name := "dave-" + strings.ReplaceAll(k.Version, ".", "-")
			_, req := newKeyAndRequest(t, "dave")
			c.MustRun(t, k, csrManifest(name, req), "create", "-f", "-")
			_, errOut, err := c.Run(k, "", "--kubeconfig", bob, "certificate", "approve", name)
			want := `certificatesigningrequests.certificates.k8s.io "` + name + `" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`
			if err == nil || !strings.Contains(errOut, want) {
				t.Errorf("bob approves: %v\n%s\nwant %s", err, errOut, want)
			}
			out, errOut, err := c.Run(k, "", "--kubeconfig", carol, "certificate", "approve", name)
			if err != nil || !strings.Contains(out, name+" approved") {
				t.Errorf("carol approves: %v\n%s%s", err, out, errOut)
			}
			waitForCertificate(t, c, name)
		})
	}
}

// TestCSRBuildsAClient is the conformance test "Certificates API should
// support building a client with a CSR": a user's request for an hour's
// certificate, approved through the approval subresource, is signed for at
// most an hour and five minutes, and the certificate authenticates its user.
func TestCSRBuildsAClient(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	const commonName = "tester-csr"
	csrs := c.Client.CertificatesV1().CertificateSigningRequests()
	// An RSA key, as the conformance test's.
	signer, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(signer)})
	req, err := cert.MakeCSR(signer, &pkix.Name{CommonName: commonName}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	template := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: commonName + "-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           req,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth},
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			ExpirationSeconds: csrutil.DurationToExpirationSeconds(time.Hour),
		},
	}
	role, err := c.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{GenerateName: commonName + "-"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: commonName + "-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: commonName}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	csr, err := csrs.Create(ctx, template, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
		{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "E2E", Message: "Set from an e2e test"}}
	if _, err := csrs.UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	certPEM := waitForCertificate(t, c, csr.Name)
	certs, err := cert.ParseCertsPEM(certPEM)
	if err != nil || len(certs) != 1 {
		t.Fatalf("certificates %d, %v", len(certs), err)
	}
	if life := certs[0].NotAfter.Sub(certs[0].NotBefore); life > time.Hour+5*time.Minute {
		t.Errorf("an hour's certificate lasts %v", life)
	}

	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.CertData, cfg.KeyData = certPEM, key
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The role binding may take a moment to reach the authorizer.
	var mine *certificatesv1.CertificateSigningRequest
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		mine, err = client.CertificatesV1().CertificateSigningRequests().Create(ctx, template, metav1.CreateOptions{})
		if err == nil || !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if mine.Spec.Username != commonName {
		t.Errorf("a request made with the certificate is %q's", mine.Spec.Username)
	}
}

// TestCSRAPIOperations is the conformance test "Certificates API should
// support CSR API operations": discovery, and every verb of the resource and
// of its approval and status subresources.
func TestCSRAPIOperations(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	csrs := c.Client.CertificatesV1().CertificateSigningRequests()
	gvr := certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests")
	dyn := dynamic.NewForConfigOrDie(c.Config)

	key, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := keyutil.ParsePrivateKeyPEM(key)
	req, err := cert.MakeCSR(signer, &pkix.Name{CommonName: "e2e.example.com"}, []string{"e2e.example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	certificateData, _, err := cert.GenerateSelfSignedCertKey("e2e.example.com", nil, []string{"e2e.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	certificateJSON, _ := json.Marshal(certificateData)
	signerName := "example.com/e2e-csr-api"
	template := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-example-csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: req, SignerName: signerName, ExpirationSeconds: csrutil.DurationToExpirationSeconds(time.Hour),
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
		},
	}

	groups, err := c.Client.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(groups.Groups, func(g metav1.APIGroup) bool {
		return g.Name == "certificates.k8s.io" && len(g.Versions) == 1 && g.Versions[0].Version == "v1"
	}) {
		t.Errorf("/apis: %+v", groups.Groups)
	}
	resources, err := c.Client.Discovery().ServerResourcesForGroupVersion("certificates.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range resources.APIResources {
		listed = append(listed, r.Name+" "+strings.Join(r.Verbs, ",")+" "+strings.Join(r.ShortNames, ","))
	}
	if want := []string{
		"certificatesigningrequests create,delete,deletecollection,get,list,patch,update,watch csr",
		"certificatesigningrequests/approval get,patch,update ",
		"certificatesigningrequests/status get,patch,update ",
		"clustertrustbundles create,delete,deletecollection,get,list,patch,update,watch ",
		"podcertificaterequests create,delete,deletecollection,get,list,patch,update,watch ",
		"podcertificaterequests/status get,patch,update ",
	}; !slices.Equal(listed, want) {
		t.Errorf("/apis/certificates.k8s.io/v1 lists %q\nwant %q", listed, want)
	}

	for range 2 {
		if _, err := csrs.Create(ctx, template, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	created, err := csrs.Create(ctx, template, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := csrs.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil || got.UID != created.UID || *got.Spec.ExpirationSeconds != 3600 || got.ResourceVersion == "" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	bySigner := metav1.ListOptions{FieldSelector: "spec.signerName=" + signerName}
	list, err := csrs.List(ctx, bySigner)
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list by signer: %d, %v", len(list.Items), err)
	}
	w, err := csrs.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, FieldSelector: "metadata.name=" + created.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	patched, err := csrs.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" || patched.ResourceVersion == got.ResourceVersion {
		t.Fatalf("patch: %+v, %v", patched, err)
	}
	update := patched.DeepCopy()
	update.Annotations["updated"] = "true"
	if updated, err := csrs.Update(ctx, update, metav1.UpdateOptions{}); err != nil || updated.Annotations["updated"] != "true" {
		t.Fatalf("update: %+v, %v", updated, err)
	}
	for seen := false; !seen; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch closed")
			}
			obj, isCSR := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if ev.Type != watch.Modified || !isCSR {
				t.Fatalf("watch event %s %T", ev.Type, ev.Object)
			}
			seen = obj.Annotations["patched"] == "true"
		case <-time.After(30 * time.Second):
			t.Fatal("no watch event with the patched annotation")
		}
	}

	for _, sub := range []string{"approval", "status"} {
		u, err := dyn.Resource(gvr).Get(ctx, created.Name, metav1.GetOptions{}, sub)
		if err != nil || u.GetObjectKind().GroupVersionKind() != certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest") || u.GetUID() != created.UID {
			t.Fatalf("get %s: %v, %v", sub, u, err)
		}
	}
	approval, err := csrs.Patch(ctx, created.Name, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedapproval":"true"}},"status":{"conditions":[{"type":"ApprovalPatch","status":"True","reason":"e2e"}]}}`),
		metav1.PatchOptions{}, "approval")
	if err != nil || len(approval.Status.Conditions) != 1 || approval.Status.Conditions[0].Type != "ApprovalPatch" || approval.Annotations["patchedapproval"] != "true" {
		t.Fatalf("patch approval: %+v, %v", approval, err)
	}
	approve := approval.DeepCopy()
	approve.Status.Conditions = append(approve.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "E2E", Message: "Set from an e2e test"})
	approved, err := csrs.UpdateApproval(ctx, approve.Name, approve, metav1.UpdateOptions{})
	if err != nil || len(approved.Status.Conditions) != 2 || approved.Status.Conditions[1].Type != certificatesv1.CertificateApproved {
		t.Fatalf("update approval: %+v, %v", approved, err)
	}
	status, err := csrs.Patch(ctx, created.Name, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":{"certificate":`+string(certificateJSON)+`}}`), metav1.PatchOptions{}, "status")
	if err != nil || string(status.Status.Certificate) != string(certificateData) || status.Annotations["patchedstatus"] != "true" {
		t.Fatalf("patch status: %+v, %v", status, err)
	}
	statusUpdate := status.DeepCopy()
	statusUpdate.Status.Conditions = append(statusUpdate.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: "StatusUpdate", Status: corev1.ConditionTrue, Reason: "E2E", Message: "Set from an e2e test"})
	updatedStatus, err := csrs.UpdateStatus(ctx, statusUpdate, metav1.UpdateOptions{})
	if err != nil || len(updatedStatus.Status.Conditions) != 3 || updatedStatus.Status.Conditions[2].Type != "StatusUpdate" {
		t.Fatalf("update status: %+v, %v", updatedStatus, err)
	}

	if err := csrs.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := csrs.Get(ctx, created.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
	if list, err := csrs.List(ctx, bySigner); err != nil || len(list.Items) != 2 {
		t.Fatalf("list after delete: %d, %v", len(list.Items), err)
	}
	if err := csrs.DeleteCollection(ctx, metav1.DeleteOptions{}, bySigner); err != nil {
		t.Fatal(err)
	}
	if list, err := csrs.List(ctx, bySigner); err != nil || len(list.Items) != 0 {
		t.Fatalf("list after deletecollection: %d, %v", len(list.Items), err)
	}
}
