package csrcleaner

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/skiffhq/skiff/pkg/controller/controllertest"
	"github.com/skiffhq/skiff/pkg/pki/pkitest"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func certificateUntil(t *testing.T, end time.Time) []byte {
	t.Helper()
	return pkitest.SelfSigned(t, "alice", end)
}

// request is a request made age ago, with conditions of the given types
// last updated decided ago, and cert as its certificate.
func request(name string, age, decided time.Duration, cert []byte, conditions ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
	c := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(now.Add(-age))},
		Status:     certificatesv1.CertificateSigningRequestStatus{Certificate: cert},
	}
	for _, ty := range conditions {
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: ty, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(now.Add(-decided))})
	}
	return c
}

// TestExpired: which requests go, and which stay.
func TestExpired(t *testing.T) {
	good, old := certificateUntil(t, now.Add(time.Hour)), certificateUntil(t, now.Add(-time.Minute))
	approved, denied, failed := certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed
	for _, tc := range []struct {
		csr  *certificatesv1.CertificateSigningRequest
		goes bool
	}{
		{request("issued just now", 2*time.Hour, time.Minute, good, approved), false},
		{request("issued long ago", 3*time.Hour, 61*time.Minute, good, approved), true},
		{request("issued and expired", 2*time.Hour, time.Minute, old, approved), true},
		{request("denied just now", 2*time.Hour, 59*time.Minute, nil, denied), false},
		{request("denied long ago", 2*time.Hour, 61*time.Minute, nil, denied), true},
		{request("failed long ago", 2*time.Hour, 61*time.Minute, nil, approved, failed), true},
		{request("pending today", 23*time.Hour, 0, nil), false},
		{request("pending for days", 25*time.Hour, 0, nil), true},
		{request("approved, waiting for its signer", 2*time.Hour, 23*time.Hour, nil, approved), false},
		{request("approved, never signed", 48*time.Hour, 25*time.Hour, nil, approved), true},
		{request("undated approval", 48*time.Hour, 0, nil, approved), false},
		{request("only a custom condition", 48*time.Hour, 48*time.Hour, nil, "Custom"), false},
	} {
		if why := expired(tc.csr, now); (why != "") != tc.goes {
			t.Errorf("%s: expired %q, want it to go: %v", tc.csr.Name, why, tc.goes)
		}
	}
}

// TestSweeps: the cleaner sweeps when it starts and again each interval.
func TestSweeps(t *testing.T) {
	kube := fake.NewClientset(
		request("old", 25*time.Hour, 0, nil),
		request("young", 23*time.Hour+30*time.Minute, 0, nil),
		request("denied", time.Minute, time.Minute, nil, certificatesv1.CertificateDenied),
	)
	clock := testingclock.NewFakeClock(now)
	factory := informers.NewSharedInformerFactory(kube, 0)
	controllertest.Run(t, factory, New(kube, factory, Options{Clock: clock}))
	names := func() []string {
		list, err := kube.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range list.Items {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	controllertest.Eventually(t, "the first sweep", func() (bool, string) {
		got := names()
		return slices.Equal(got, []string{"denied", "young"}), "left " + strings.Join(got, ", ")
	})
	controllertest.Eventually(t, "the ticker", func() (bool, string) { return clock.HasWaiters(), "" })
	clock.Step(time.Hour + time.Second)
	controllertest.Eventually(t, "the second sweep", func() (bool, string) {
		got := names()
		return len(got) == 0, "left " + strings.Join(got, ", ")
	})
}
