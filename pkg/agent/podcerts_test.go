package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

// podCertSetup is an agent on node-1 whose fake API names the requests it
// creates (as the API server does for generateName) and a signer that
// issues, denies or fails them.
type podCertSetup struct {
	a      *Agent
	client *fake.Clientset
	caCert *x509.Certificate
	caKey  crypto.Signer
	caPEM  []byte
	n      int
}

func newPodCertSetup(t *testing.T) *podCertSetup {
	s := &podCertSetup{}
	s.caCert, s.caKey, s.caPEM = pkitest.CA(t, "pod signer")
	s.client = fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "default", UID: "sa-uid"}})
	s.client.PrependReactor("create", "podcertificaterequests", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pcr := action.(k8stesting.CreateAction).GetObject().(*certificatesv1.PodCertificateRequest)
		s.n++
		pcr.Name = fmt.Sprintf("%s%d", pcr.GenerateName, s.n)
		pcr.CreationTimestamp = metav1.NewTime(timeNow())
		return false, nil, nil
	})
	s.a = &Agent{client: s.client, opts: Options{NodeName: "node-1"}}
	s.a.nodeUID.Store(types.UID("node-uid"))
	return s
}

func (s *podCertSetup) request(t *testing.T, name string) *certificatesv1.PodCertificateRequest {
	t.Helper()
	pcr, err := s.client.CertificatesV1().PodCertificateRequests("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pcr
}

// issue signs the request's key as a signer would.
func (s *podCertSetup) issue(t *testing.T, name string, beginRefreshAt, notAfter time.Time) string {
	t.Helper()
	pcr := s.request(t, name)
	req, err := x509.ParseCertificateRequest(pcr.Spec.StubPKCS10Request)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pkitest.Leaf(t, s.caCert, s.caKey, req.PublicKey, notAfter.Add(-2*time.Hour), notAfter)
	pcr.Status = certificatesv1.PodCertificateRequestStatus{
		Conditions:       []metav1.Condition{{Type: certificatesv1.PodCertificateRequestConditionTypeIssued, Status: metav1.ConditionTrue, Reason: "Reason", Message: "issued"}},
		CertificateChain: "leading text\n" + string(leaf) + "between\n" + string(s.caPEM),
		BeginRefreshAt:   ptr.To(metav1.NewTime(beginRefreshAt)),
		NotAfter:         ptr.To(metav1.NewTime(notAfter)),
		NotBefore:        ptr.To(metav1.NewTime(notAfter.Add(-2 * time.Hour))),
	}
	if _, err := s.client.CertificatesV1().PodCertificateRequests("default").UpdateStatus(context.Background(), pcr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return string(leaf) + string(s.caPEM)
}

func (s *podCertSetup) refuse(t *testing.T, name, condition string) {
	t.Helper()
	pcr := s.request(t, name)
	pcr.Status.Conditions = []metav1.Condition{{Type: condition, Status: metav1.ConditionTrue, Reason: "NotAllowed", Message: "this pod may not have one"}}
	if _, err := s.client.CertificatesV1().PodCertificateRequests("default").UpdateStatus(context.Background(), pcr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPodCertFiles: a podCertificate source makes a key, asks for it in a
// PodCertificateRequest bound to the pod, its service account and the node
// (with a PKCS#10 proof signed by the key), shows key and chain once issued
// (bundle: key then chain), and after beginRefreshAt asks again with a new
// key, showing the old credentials until the new ones are issued.
func TestPodCertFiles(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { timeNow = f }(timeNow)
	timeNow = func() time.Time { return now }
	defer func(d time.Duration) { podCertWait = d }(podCertWait)
	podCertWait = 0

	s := newPodCertSetup(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "pod-uid"}, Spec: corev1.PodSpec{ServiceAccountName: "builder", NodeName: "node-1"}}
	src := &corev1.PodCertificateProjection{SignerName: "example.com/pods", KeyType: "ECDSAP256", MaxExpirationSeconds: ptr.To(int32(86400)),
		CredentialBundlePath: "bundle.pem", KeyPath: "key.pem", CertificateChainPath: "chain.pem", UserAnnotations: map[string]string{"example.com/role": "web"}}
	refs := &podRefs{a: s.a, ns: "default", certs: podCertCache{}}
	read := func() (map[string]string, error) {
		files, err := s.a.podCertFiles(context.Background(), refs, pod, "certs", 2, src)
		out := map[string]string{}
		for _, f := range files {
			out[f.path] = string(f.data)
		}
		return out, err
	}

	if _, err := read(); err == nil || isConfigError(err) {
		t.Fatalf("before issuance: %v, want a passing error", err)
	}
	pcr := s.request(t, "req-1")
	spec := pcr.Spec
	if spec.SignerName != "example.com/pods" || spec.PodName != "web" || spec.PodUID != "pod-uid" || spec.ServiceAccountName != "builder" ||
		spec.ServiceAccountUID != "sa-uid" || spec.NodeName != "node-1" || spec.NodeUID != "node-uid" || *spec.MaxExpirationSeconds != 86400 ||
		spec.UnverifiedUserAnnotations["example.com/role"] != "web" {
		t.Errorf("request spec: %+v", spec)
	}
	if o := pcr.OwnerReferences; len(o) != 1 || o[0].Kind != "Pod" || o[0].UID != "pod-uid" {
		t.Errorf("owners: %+v", o)
	}
	stub, err := x509.ParseCertificateRequest(spec.StubPKCS10Request)
	if err != nil || stub.CheckSignature() != nil {
		t.Fatalf("proof of possession: %v", err)
	}
	if _, err := read(); err == nil || s.n != 1 {
		t.Fatalf("still pending: %v after %d requests, want an error and no new request", err, s.n)
	}

	chain := s.issue(t, "req-1", now.Add(time.Hour), now.Add(2*time.Hour))
	files, err := read()
	if err != nil {
		t.Fatal(err)
	}
	key := files["key.pem"]
	if files["chain.pem"] != chain || files["bundle.pem"] != key+chain {
		t.Errorf("files:\n%v\nwant the chain cleaned and the bundle key then chain", files)
	}
	b, _ := pem.Decode([]byte(key))
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("key %q: %v", b.Type, err)
	}
	if !k.(*ecdsa.PrivateKey).PublicKey.Equal(stub.PublicKey) {
		t.Errorf("the key is not the one the request proved")
	}

	now = now.Add(30 * time.Minute)
	if again, _ := read(); again["key.pem"] != key || s.n != 1 {
		t.Errorf("before beginRefreshAt: %d requests, want the same key and no new request", s.n)
	}
	now = now.Add(time.Hour)
	if again, err := read(); err != nil || again["key.pem"] != key || s.n != 2 {
		t.Errorf("after beginRefreshAt: %d requests (%v), want a new request and the old key meanwhile", s.n, err)
	}
	newChain := s.issue(t, "req-2", now.Add(time.Hour), now.Add(2*time.Hour))
	renewed, err := read()
	if err != nil || renewed["chain.pem"] != newChain || renewed["key.pem"] == key {
		t.Errorf("after the refresh was issued: %v, want the new chain and a new key", err)
	}

	for _, cond := range []string{certificatesv1.PodCertificateRequestConditionTypeDenied, certificatesv1.PodCertificateRequestConditionTypeFailed} {
		refs := &podRefs{a: s.a, ns: "default", certs: podCertCache{}}
		if _, err := s.a.podCertFiles(context.Background(), refs, pod, "certs", 0, src); err == nil {
			t.Fatal("no error before issuance")
		}
		s.refuse(t, fmt.Sprintf("req-%d", s.n), cond)
		verb := map[string]string{"Denied": "denied", "Failed": "failed"}[cond]
		want := fmt.Sprintf(`PodCertificateRequest was permanently %s: reason="NotAllowed" message="this pod may not have one"`, verb)
		for range 2 {
			_, err := s.a.podCertFiles(context.Background(), refs, pod, "certs", 0, src)
			if err == nil || err.Error() != want || !isConfigError(err) {
				t.Errorf("%s: %v, want the configuration error %q", cond, err, want)
			}
		}
	}
}

// TestPodCertWaits: a pod's start waits a little for the signer, so that a
// quick one issues before the volume is reported as failing.
func TestPodCertWaits(t *testing.T) {
	s := newPodCertSetup(t)
	signed := make(chan struct{})
	go func() { // the signer, from outside the fake's reactors
		defer close(signed)
		for range 100 {
			time.Sleep(50 * time.Millisecond)
			list, err := s.client.CertificatesV1().PodCertificateRequests("default").List(context.Background(), metav1.ListOptions{})
			if err == nil && len(list.Items) == 1 {
				s.issue(t, list.Items[0].Name, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour))
				return
			}
		}
	}()
	defer func() { <-signed }()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "pod-uid"}, Spec: corev1.PodSpec{ServiceAccountName: "builder"}}
	src := &corev1.PodCertificateProjection{SignerName: "example.com/pods", KeyType: "ED25519", CredentialBundlePath: "bundle.pem"}
	files, err := s.a.podCertFiles(context.Background(), &podRefs{a: s.a, ns: "default", certs: podCertCache{}}, pod, "certs", 0, src)
	if err != nil || len(files) != 1 || !bytes.HasPrefix(files[0].data, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatalf("files %v, err %v", files, err)
	}
}

// TestKeyAndProof: each of upstream's key types makes its key, and the proof
// is a PKCS#10 request signed by it; an unknown type is refused.
func TestKeyAndProof(t *testing.T) {
	for _, tc := range []struct {
		keyType string
		check   func(crypto.Signer) bool
	}{
		{"RSA3072", func(k crypto.Signer) bool { return k.(*rsa.PrivateKey).N.BitLen() == 3072 }},
		{"RSA4096", func(k crypto.Signer) bool { return k.(*rsa.PrivateKey).N.BitLen() == 4096 }},
		{"ECDSAP256", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().Name == "P-256" }},
		{"ECDSAP384", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().Name == "P-384" }},
		{"ECDSAP521", func(k crypto.Signer) bool { return k.(*ecdsa.PrivateKey).Curve.Params().Name == "P-521" }},
		{"ED25519", func(k crypto.Signer) bool { _, ok := k.(ed25519.PrivateKey); return ok }},
	} {
		if tc.keyType == "RSA4096" && testing.Short() {
			continue
		}
		key, stub, err := keyAndProof(tc.keyType)
		if err != nil || !tc.check(key) {
			t.Errorf("%s: %T, %v", tc.keyType, key, err)
			continue
		}
		req, err := x509.ParseCertificateRequest(stub)
		if err != nil || req.CheckSignature() != nil {
			t.Errorf("%s: proof: %v", tc.keyType, err)
			continue
		}
		if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(req.PublicKey) {
			t.Errorf("%s: the proof is for another key", tc.keyType)
		}
	}
	if _, _, err := keyAndProof("DSA"); err == nil || err.Error() != `unknown key type "DSA"` {
		t.Errorf("unknown key type: %v", err)
	}
}
