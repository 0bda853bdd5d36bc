package csrsigning

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	validation "github.com/skiffhq/skiff/pkg/api/validation/certificates"
	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/pki"
	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

var (
	client  = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth}
	serving = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
)

func requestPEM(t *testing.T, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	_, req := pkitest.Request(t, tmpl)
	return req
}

func parse(t *testing.T, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	req, err := validation.ParseRequest(requestPEM(t, tmpl))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func subject(cn string, orgs ...string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: orgs}
}

// TestChecks: what each signer requires of a request, in upstream's words.
func TestChecks(t *testing.T) {
	node := subject("system:node:n1", "system:nodes")
	ip := []net.IP{net.ParseIP("10.0.0.1")}
	for _, tc := range []struct {
		name   string
		signer string
		req    x509.CertificateRequest
		usages []certificatesv1.KeyUsage
		want   string
	}{
		{"a user's client certificate", certificatesv1.KubeAPIServerClientSignerName, x509.CertificateRequest{Subject: subject("alice", "devs")}, client, ""},
		{"client auth alone", certificatesv1.KubeAPIServerClientSignerName, x509.CertificateRequest{Subject: subject("alice")},
			[]certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, ""},
		{"a client certificate that serves", certificatesv1.KubeAPIServerClientSignerName, x509.CertificateRequest{Subject: subject("alice")},
			append(slices.Clone(client), certificatesv1.UsageServerAuth), "invalid usage for client certificate: server auth"},
		{"a client certificate without client auth", certificatesv1.KubeAPIServerClientSignerName, x509.CertificateRequest{Subject: subject("alice")},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}, "missing required usage for client certificate: client auth"},

		{"a kubelet's client certificate", certificatesv1.KubeAPIServerClientKubeletSignerName, x509.CertificateRequest{Subject: node}, client, ""},
		{"a kubelet's client certificate without key encipherment", certificatesv1.KubeAPIServerClientKubeletSignerName, x509.CertificateRequest{Subject: node},
			[]certificatesv1.KeyUsage{certificatesv1.UsageClientAuth, certificatesv1.UsageDigitalSignature}, ""},
		{"a kubelet outside system:nodes", certificatesv1.KubeAPIServerClientKubeletSignerName, x509.CertificateRequest{Subject: subject("system:node:n1", "devs")},
			client, "subject organization is not system:nodes"},
		{"a kubelet that is not a node", certificatesv1.KubeAPIServerClientKubeletSignerName, x509.CertificateRequest{Subject: subject("alice", "system:nodes")},
			client, "subject common name does not begin with system:node:"},
		{"a kubelet's client certificate with a DNS name", certificatesv1.KubeAPIServerClientKubeletSignerName,
			x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}}, client, "DNS subjectAltNames are not allowed"},
		{"a kubelet's client certificate with an IP", certificatesv1.KubeAPIServerClientKubeletSignerName,
			x509.CertificateRequest{Subject: node, IPAddresses: ip}, client, "IP subjectAltNames are not allowed"},
		{"a kubelet's client certificate that serves", certificatesv1.KubeAPIServerClientKubeletSignerName, x509.CertificateRequest{Subject: node},
			serving, "usages did not match [client auth digital signature key encipherment]"},

		{"a kubelet's serving certificate", certificatesv1.KubeletServingSignerName, x509.CertificateRequest{Subject: node, DNSNames: []string{"n1"}, IPAddresses: ip}, serving, ""},
		{"a serving certificate for nothing", certificatesv1.KubeletServingSignerName, x509.CertificateRequest{Subject: node}, serving, "DNS or IP subjectAltName is required"},
		{"a serving certificate for an email", certificatesv1.KubeletServingSignerName,
			x509.CertificateRequest{Subject: node, IPAddresses: ip, EmailAddresses: []string{"a@b.c"}}, serving, "Email subjectAltNames are not allowed"},
		{"a serving certificate for clients", certificatesv1.KubeletServingSignerName, x509.CertificateRequest{Subject: node, IPAddresses: ip},
			client, "usages did not match [digital signature key encipherment server auth]"},
		{"a serving certificate for a user", certificatesv1.KubeletServingSignerName, x509.CertificateRequest{Subject: subject("alice", "system:nodes"), IPAddresses: ip},
			serving, "subject common name does not begin with system:node:"},

		{"anything for the legacy signer", "kubernetes.io/legacy-unknown", x509.CertificateRequest{Subject: subject("x")},
			[]certificatesv1.KeyUsage{certificatesv1.UsageAny}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checks[tc.signer](parse(t, &tc.req), tc.usages)
			if got := errString(err); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := Signers(); !slices.Equal(got, []string{"kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet",
		"kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"}) {
		t.Errorf("signers %q", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestValidity: a certificate lasts what was asked within ten minutes and
// the cluster's duration, starts five minutes early, and a long one gives
// those five minutes back at its end.
func TestValidity(t *testing.T) {
	c := &Controller{opts: Options{}}
	c.opts.setDefaults()
	year := 365 * 24 * time.Hour
	for _, tc := range []struct {
		asked *int32
		want  time.Duration
	}{{nil, year}, {ptr.To[int32](3600), time.Hour}, {ptr.To[int32](60), 10 * time.Minute}, {ptr.To[int32](3 * 365 * 86400), year}} {
		if got := c.duration(tc.asked); got != tc.want {
			t.Errorf("asked %v: %v, want %v", ptr.Deref(tc.asked, -1), got, tc.want)
		}
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	req := parse(t, &x509.CertificateRequest{Subject: subject("alice")})
	short, err := template(req, client, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if !short.NotBefore.Equal(now.Add(-5*time.Minute)) || !short.NotAfter.Equal(now.Add(time.Hour)) {
		t.Errorf("an hour's certificate: %v to %v", short.NotBefore, short.NotAfter)
	}
	long, _ := template(req, client, year, now)
	if !long.NotAfter.Equal(now.Add(year - 5*time.Minute)) {
		t.Errorf("a year's certificate ends %v", long.NotAfter)
	}
	if short.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment || !slices.Equal(short.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("usages %v %v", short.KeyUsage, short.ExtKeyUsage)
	}
	if _, err := template(req, []certificatesv1.KeyUsage{"flying"}, time.Hour, now); err == nil || err.Error() != `unrecognized usage values: ["flying"]` {
		t.Errorf("an unknown usage: %v", err)
	}
}

func csr(t *testing.T, name, signer string, req x509.CertificateRequest, usages []certificatesv1.KeyUsage, conditions ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
	c := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: requestPEM(t, &req), SignerName: signer, Usages: usages, ExpirationSeconds: ptr.To[int32](3600),
		},
	}
	for _, ty := range conditions {
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: ty, Status: corev1.ConditionTrue})
	}
	return c
}

// TestController: approved requests of its signers are signed by the
// cluster CA, those their signer may not sign are marked Failed, and the
// rest are left alone.
func TestController(t *testing.T) {
	ca, err := pki.EnsureCA(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	approved, denied, failed := certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed
	alice := x509.CertificateRequest{Subject: subject("alice", "devs")}
	kube := fake.NewClientset(
		csr(t, "alice", certificatesv1.KubeAPIServerClientSignerName, alice, client, approved),
		csr(t, "pending", certificatesv1.KubeAPIServerClientSignerName, alice, client),
		csr(t, "denied", certificatesv1.KubeAPIServerClientSignerName, alice, client, denied),
		csr(t, "failed", certificatesv1.KubeAPIServerClientSignerName, alice, client, approved, failed),
		csr(t, "elsewhere", "example.com/signer", alice, client, approved),
		csr(t, "fake-node", certificatesv1.KubeAPIServerClientKubeletSignerName, alice, client, approved),
		csr(t, "fake-apiserver", certificatesv1.KubeAPIServerClientSignerName, x509.CertificateRequest{Subject: subject("system:apiserver")}, client, approved),
		csr(t, "fake-apiserver-legacy", certificatesv1beta1.LegacyUnknownSignerName, x509.CertificateRequest{Subject: subject("system:apiserver")}, client, approved),
	)
	factory := informers.NewSharedInformerFactory(kube, 0)
	controllertest.Run(t, factory, New(kube, factory, Options{CA: ca, ReservedNames: []string{"system:apiserver"}}))
	ctx := context.Background()
	get := func(name string) *certificatesv1.CertificateSigningRequest {
		c, err := kube.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	controllertest.Eventually(t, "alice's certificate and fake-node's failure", func() (bool, string) {
		a, f := get("alice"), get("fake-node")
		return len(a.Status.Certificate) > 0 && len(f.Status.Conditions) == 2, ""
	})

	block, _ := pem.Decode(get("alice").Status.Certificate)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("alice's certificate does not verify as a client's: %v", err)
	}
	if cert.Subject.CommonName != "alice" || !slices.Equal(cert.Subject.Organization, []string{"devs"}) {
		t.Errorf("alice's certificate is for %v", cert.Subject)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life > time.Hour+5*time.Minute || life < time.Hour {
		t.Errorf("asked for an hour, got %v", life)
	}

	f := get("fake-node").Status.Conditions[1]
	if f.Type != failed || f.Status != corev1.ConditionTrue || f.Reason != "SignerValidationFailure" ||
		f.Message != "subject organization is not system:nodes" || f.LastUpdateTime.IsZero() {
		t.Errorf("fake-node's condition %+v", f)
	}
	// The API server's own name is never issued, whatever the signer.
	controllertest.Eventually(t, "the reserved name refused", func() (bool, string) {
		a, l := get("fake-apiserver"), get("fake-apiserver-legacy")
		return len(a.Status.Conditions) == 2 && len(l.Status.Conditions) == 2, ""
	})
	for _, name := range []string{"fake-apiserver", "fake-apiserver-legacy"} {
		c := get(name)
		if f := c.Status.Conditions[1]; len(c.Status.Certificate) > 0 || f.Type != failed ||
			f.Message != `subject common name "system:apiserver" is reserved for the cluster's own components` {
			t.Errorf("%s: certificate %d bytes, condition %+v", name, len(c.Status.Certificate), f)
		}
	}
	for _, name := range []string{"pending", "denied", "failed", "elsewhere"} {
		if c := get(name); len(c.Status.Certificate) > 0 || c.ResourceVersion != "1" {
			t.Errorf("%s was written: %+v", name, c.Status)
		}
	}
}
