package certificates

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/apiserver"
	"github.com/skiffhq/skiff/pkg/pki/pkitest"
	"github.com/skiffhq/skiff/pkg/registry/kind"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// serveGroup runs an API server of this group alone, in memory, and
// returns a client that is alice, in group devs.
func serveGroup(t *testing.T) kubernetes.Interface {
	t.Helper()
	s := apiserver.New(apiserver.Config{
		Storage:  memory.New(),
		Registry: apiserver.NewRegistry(Resources(kind.Options{})...),
		Tokens:   map[string]apiserver.User{"alice": {Name: "alice", Groups: []string{"devs"}}},
	})
	go func() { _ = s.Run(t.Context()) }()
	<-s.Ready()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL, BearerToken: "alice"})
}

// TestClusterTrustBundles: bundles are stored as written, listed by signer,
// refused in upstream's words when invalid, and keep their signer.
func TestClusterTrustBundles(t *testing.T) {
	ctbs := serveGroup(t).CertificatesV1().ClusterTrustBundles()
	ctx := context.Background()
	_, _, ca := pkitest.CA(t, "root")
	for _, b := range []certificatesv1.ClusterTrustBundle{
		{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Spec: certificatesv1.ClusterTrustBundleSpec{TrustBundle: string(ca)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "example.com:foo:v1"}, Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: "example.com/foo", TrustBundle: string(ca)}},
	} {
		if _, err := ctbs.Create(ctx, &b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := ctbs.List(ctx, metav1.ListOptions{FieldSelector: "spec.signerName=example.com/foo"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "example.com:foo:v1" {
		t.Errorf("listed by signer: %v, %v", list, err)
	}
	_, err = ctbs.Create(ctx, &certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: "foo"},
		Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: "example.com/foo", TrustBundle: string(ca) + string(ca)}}, metav1.CreateOptions{})
	want := `ClusterTrustBundle.certificates.k8s.io "foo" is invalid: [metadata.name: Invalid value: "foo": ClusterTrustBundle for signerName example.com/foo must be named with prefix example.com:foo:, spec.trustBundle: Invalid value: "<value omitted>": duplicate trust anchor (indices [0 1])]`
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	b, err := ctbs.Get(ctx, "example.com:foo:v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Spec.SignerName = "example.com/bar"
	if _, err := ctbs.Update(ctx, b, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.signerName: Invalid value: \"example.com/bar\": field is immutable") {
		t.Errorf("changing the signer: %v", err)
	}
}

// TestPodCertificateRequests: a request starts pending with the default
// lifetime cap, its spec never changes, and its signer issues it once
// through /status.
func TestPodCertificateRequests(t *testing.T) {
	pcrs := serveGroup(t).CertificatesV1().PodCertificateRequests("default")
	ctx := context.Background()
	key := pkitest.Key(t)
	in := &certificatesv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"},
		Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName: "example.com/signer", PodName: "web", PodUID: "pod-uid",
			ServiceAccountName: "robot", ServiceAccountUID: "sa-uid", NodeName: "n1", NodeUID: "node-uid",
			StubPKCS10Request: pkitest.StubRequest(t, key),
		},
		Status: certificatesv1.PodCertificateRequestStatus{CertificateChain: "forged"},
	}
	out, err := pcrs.Create(ctx, in, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Spec.MaxExpirationSeconds; s == nil || *s != 86400 || out.Status.CertificateChain != "" {
		t.Errorf("created with maxExpirationSeconds %v and status %+v", s, out.Status)
	}
	out.Spec.PodName = "other"
	if _, err := pcrs.Update(ctx, out, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec: Invalid value") {
		t.Errorf("changing the spec: %v", err)
	}
	if list, err := pcrs.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1,spec.podName=web"}); err != nil || len(list.Items) != 1 {
		t.Errorf("listed by node and pod: %v, %v", list, err)
	}

	ca, caKey, _ := pkitest.CA(t, "signer")
	now := time.Now().Truncate(time.Second)
	chain := pkitest.Leaf(t, ca, caKey, key.Public(), now, now.Add(2*time.Hour))
	block, _ := pem.Decode(chain)
	leaf, _ := x509.ParseCertificate(block.Bytes)
	out, _ = pcrs.Get(ctx, out.Name, metav1.GetOptions{})
	out.Status = certificatesv1.PodCertificateRequestStatus{
		Conditions:       []metav1.Condition{{Type: "Issued", Status: metav1.ConditionTrue, Reason: "Signed", LastTransitionTime: metav1.NewTime(now)}},
		CertificateChain: string(chain),
		NotBefore:        ptr.To(metav1.NewTime(leaf.NotBefore)), NotAfter: ptr.To(metav1.NewTime(leaf.NotAfter)),
		BeginRefreshAt: ptr.To(metav1.NewTime(leaf.NotBefore.Add(time.Hour))),
	}
	issued, err := pcrs.UpdateStatus(ctx, out, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issued.Status.Conditions[0].Type = "Denied"
	if _, err := pcrs.UpdateStatus(ctx, issued, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "immutable after PodCertificateRequest is issued, denied, or failed") {
		t.Errorf("re-answering: %v", err)
	}
}

type objects []runtime.Object

func (o objects) List(gv, resource string) []runtime.Object {
	var out []runtime.Object
	for _, obj := range o {
		switch obj.(type) {
		case *corev1.Pod:
			if resource == "pods" {
				out = append(out, obj)
			}
		case *corev1.Node:
			if resource == "nodes" {
				out = append(out, obj)
			}
		case *corev1.ServiceAccount:
			if resource == "serviceaccounts" {
				out = append(out, obj)
			}
		}
	}
	return out
}

// TestRestrictNode: a node asks only for its own pods, as they are stored,
// in upstream's words; other users are not restricted.
func TestRestrictNode(t *testing.T) {
	mounting := corev1.PodSpec{ServiceAccountName: "robot", NodeName: "n1", Volumes: []corev1.Volume{{Name: "cert", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{PodCertificate: &corev1.PodCertificateProjection{SignerName: "example.com/signer"}}}}}}}}
	there := mounting.DeepCopy()
	there.NodeName = "n2"
	bare := mounting.DeepCopy()
	bare.Volumes = nil
	view := objects{
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-uid"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "default", UID: "sa-uid"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "web-uid"}, Spec: mounting},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "there", Namespace: "default", UID: "there-uid"}, Spec: *there},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: "default", UID: "bare-uid"}, Spec: *bare},
	}
	req := func(pod, uid, node, sa string) *pcr {
		return &pcr{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "default"}, Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName: "example.com/signer", PodName: pod, PodUID: types.UID(uid), ServiceAccountName: sa, ServiceAccountUID: "sa-uid",
			NodeName: types.NodeName(node), NodeUID: "node-uid",
		}}
	}
	n1 := apiserver.WithUser(context.Background(), apiserver.User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}})
	if err := restrictNode(n1, view, req("web", "web-uid", "n1", "robot")); err != nil {
		t.Errorf("its own pod: %v", err)
	}
	for _, tc := range []struct {
		name      string
		r         *pcr
		forbidden bool
		want      string
	}{
		{"another node named", req("web", "web-uid", "n2", "robot"), true, `PodCertificateRequest.Spec.NodeName="n2", which is not the requesting node "n1"`},
		{"another node's pod", req("there", "there-uid", "n1", "robot"), true, `pod "default/there" is not running on node "n1" named in the PodCertificateRequest`},
		{"a stale pod UID", req("web", "old-uid", "n1", "robot"), false, `PodCertificateRequest for pod "default/web" contains pod UID ("old-uid") which differs from running pod "web-uid"`},
		{"another service account", req("web", "web-uid", "n1", "default"), true, `contains serviceAccountName ("default") that differs from running pod ("robot")`},
		{"no such pod", req("gone", "x", "n1", "robot"), false, `while retrieving pod "default/gone" named in the PodCertificateRequest`},
		{"no volume for the signer", req("bare", "bare-uid", "n1", "robot"), true, `pod "default/bare" does not mount a podCertificate projected volume for signer "example.com/signer"`},
	} {
		err := restrictNode(n1, view, tc.r)
		if err == nil || apierrors.IsForbidden(err) != tc.forbidden || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want forbidden=%v %s", tc.name, err, tc.forbidden, tc.want)
		}
	}
	alice := apiserver.WithUser(context.Background(), apiserver.User{Name: "alice"})
	if err := restrictNode(alice, view, req("there", "x", "n9", "y")); err != nil {
		t.Errorf("a user who is no node: %v", err)
	}
}
