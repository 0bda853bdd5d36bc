package integration

import (
	"context"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/pkg/pki/pkitest"
	"github.com/skiffhq/skiff/test/harness"
)

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

// TestClusterTrustBundleKubectl: kubectl creates, gets, lists by signer,
// patches and deletes ClusterTrustBundles with upstream's columns; a user
// allowed to create them but not to attest for a signer is refused that
// signer's bundle in upstream's words.
func TestClusterTrustBundleKubectl(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	k := harness.BuiltinKubectl(t)
	_, _, ca := pkitest.CA(t, "root")
	bundle := func(name, signer string) string {
		s := "apiVersion: certificates.k8s.io/v1\nkind: ClusterTrustBundle\nmetadata:\n  name: " + name + "\nspec:\n"
		if signer != "" {
			s += "  signerName: " + signer + "\n"
		}
		return s + "  trustBundle: |\n" + indent(string(ca)) + "\n"
	}
	c.MustRun(t, k, bundle("plain", ""), "create", "-f", "-")
	c.MustRun(t, k, bundle("example.com:foo:v1", "example.com/foo"), "create", "-f", "-")

	out := c.MustRun(t, k, "", "get", "clustertrustbundles")
	want := "NAME                 SIGNERNAME\nexample.com:foo:v1   example.com/foo\nplain                <none>\n"
	if out != want {
		t.Errorf("kubectl get clustertrustbundles:\n%s\nwant:\n%s", out, want)
	}
	if out := c.MustRun(t, k, "", "get", "clustertrustbundles", "--field-selector", "spec.signerName=example.com/foo", "-o", "name"); out != "clustertrustbundle.certificates.k8s.io/example.com:foo:v1\n" {
		t.Errorf("listed by signer: %q", out)
	}
	c.MustRun(t, k, "", "label", "clustertrustbundle", "plain", "tier=root")
	c.MustRun(t, k, "", "patch", "clustertrustbundle", "plain", "--type=merge", "-p", `{"metadata":{"annotations":{"note":"x"}}}`)
	if got, err := c.Client.CertificatesV1().ClusterTrustBundles().Get(ctx, "plain", metav1.GetOptions{}); err != nil || got.Labels["tier"] != "root" || got.Annotations["note"] != "x" {
		t.Errorf("after label and patch: %v, %v", got, err)
	}
	_, errOut, err := c.Run(k, "", "patch", "clustertrustbundle", "example.com:foo:v1", "--type=merge", "-p", `{"spec":{"signerName":"example.com/bar"}}`)
	if err == nil || !strings.Contains(errOut, `spec.signerName: Invalid value: "example.com/bar": field is immutable`) {
		t.Errorf("patching the signer: %v %s", err, errOut)
	}
	_, errOut, err = c.Run(k, bundle("foo", "example.com/foo"), "create", "-f", "-")
	if err == nil || !strings.Contains(errOut, `The ClusterTrustBundle "foo" is invalid: metadata.name: Invalid value: "foo": ClusterTrustBundle for signerName example.com/foo must be named with prefix example.com:foo:`) {
		t.Errorf("a signer's bundle misnamed: %v %s", err, errOut)
	}
	c.MustRun(t, k, "", "delete", "clustertrustbundle", "plain")
	if _, err := c.Client.CertificatesV1().ClusterTrustBundles().Get(ctx, "plain", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}

	// alice may write bundles, but attest for no signer.
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "bundle-writer"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"clustertrustbundles"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(name, role string, subject rbacv1.Subject) {
		t.Helper()
		if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: []rbacv1.Subject{subject},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bind("alice-bundles", "bundle-writer", rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"})
	alice := userKubeconfig(t, c, "alice")
	c.MustRun(t, k, bundle("alices", ""), "--kubeconfig", alice, "create", "-f", "-")
	_, errOut, err = c.Run(k, bundle("example.com:foo:alice", "example.com/foo"), "--kubeconfig", alice, "create", "-f", "-")
	want = `Error from server (Forbidden): error when creating "STDIN": clustertrustbundles.certificates.k8s.io "example.com:foo:alice" is forbidden: user not permitted to attest for signerName "example.com/foo"`
	if err == nil || !strings.Contains(errOut, want) {
		t.Errorf("alice attesting: %v\n%s\nwant %s", err, errOut, want)
	}
	_, errOut, err = c.Run(k, "", "--kubeconfig", alice, "label", "clustertrustbundle", "example.com:foo:v1", "x=y")
	if err == nil || !strings.Contains(errOut, `user not permitted to attest for signerName "example.com/foo"`) {
		t.Errorf("alice labelling a signer's bundle: %v %s", err, errOut)
	}
	// Attesting for the signer's whole domain is enough.
	if _, err := c.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "example-attester"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"attest"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"signers"}, ResourceNames: []string{"example.com/*"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind("alice-attests", "example-attester", rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"})
	c.MustRun(t, k, bundle("example.com:foo:alice", "example.com/foo"), "--kubeconfig", alice, "create", "-f", "-")
}

// TestPodCertificateRequestsByNode: a node asks for a certificate for its
// own pod and is refused one for another node's pod in upstream's words;
// kubectl lists requests with upstream's columns.
func TestPodCertificateRequestsByNode(t *testing.T) {
	c := harness.StartCluster(t, harness.Options{DisableControllers: true})
	ctx := context.Background()
	const signer = "example.com/signer"
	sa, err := c.Client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*corev1.Node{}
	for _, n := range []string{"n1", "n2"} {
		if nodes[n], err = c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pods := map[string]*corev1.Pod{}
	for _, p := range []struct{ name, node string }{{"here", "n1"}, {"there", "n2"}} {
		pods[p.name], err = c.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: p.name},
			Spec: corev1.PodSpec{NodeName: p.node, ServiceAccountName: "robot", Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
				Volumes: []corev1.Volume{{Name: "cert", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{PodCertificate: &corev1.PodCertificateProjection{SignerName: signer, KeyType: "ECDSAP256", CredentialBundlePath: "creds.pem"}}}}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", userKubeconfig(t, c, "system:node:n1", "system:nodes"))
	if err != nil {
		t.Fatal(err)
	}
	pcrs := kubernetes.NewForConfigOrDie(cfg).CertificatesV1().PodCertificateRequests("default")
	request := func(pod string) *certificatesv1.PodCertificateRequest {
		p := pods[pod]
		return &certificatesv1.PodCertificateRequest{
			ObjectMeta: metav1.ObjectMeta{Name: pod + "-req"},
			Spec: certificatesv1.PodCertificateRequestSpec{
				SignerName: signer, PodName: p.Name, PodUID: p.UID, ServiceAccountName: "robot", ServiceAccountUID: sa.UID,
				NodeName: "n1", NodeUID: nodes["n1"].UID, StubPKCS10Request: pkitest.StubRequest(t, pkitest.Key(t)),
			},
		}
	}
	if _, err := pcrs.Create(ctx, request("here"), metav1.CreateOptions{}); err != nil {
		t.Errorf("a request for the node's own pod: %v", err)
	}
	_, err = pcrs.Create(ctx, request("there"), metav1.CreateOptions{})
	want := `podcertificaterequests.certificates.k8s.io "there-req" is forbidden: pod "default/there" is not running on node "n1" named in the PodCertificateRequest`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("a request for another node's pod: %v\nwant %s", err, want)
	}
	other := request("there")
	other.Name, other.Spec.NodeName, other.Spec.NodeUID = "other-req", "n2", nodes["n2"].UID
	_, err = pcrs.Create(ctx, other, metav1.CreateOptions{})
	want = `podcertificaterequests.certificates.k8s.io "other-req" is forbidden: PodCertificateRequest.Spec.NodeName="n2", which is not the requesting node "n1"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("a request in another node's name: %v\nwant %s", err, want)
	}

	out := c.MustRun(t, harness.BuiltinKubectl(t), "", "get", "podcertificaterequests")
	want = "NAME       PODNAME   SERVICEACCOUNTNAME   NODENAME   SIGNERNAME           STATE     UNVERIFIEDUSERANNOTATIONS\nhere-req   here      robot                n1         example.com/signer   Pending   <none>\n"
	if out != want {
		t.Errorf("kubectl get podcertificaterequests:\n%s\nwant:\n%s", out, want)
	}
}
