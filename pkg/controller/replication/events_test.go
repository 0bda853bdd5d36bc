package replication

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestSpamGuard: the guard lets through what client-go's spam filter would: 25
// events per object and type, then one per five minutes.
func TestSpamGuard(t *testing.T) {
	fake := record.NewFakeRecorder(100)
	clk := clocktesting.NewFakePassiveClock(time.Unix(1700000000, 0))
	g := newSpamGuard(fake, clk)
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", UID: "u1"}}
	other := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "other", UID: "u2"}}
	for i := 0; i < 40; i++ {
		g.Eventf(rc, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: p%d", i)
	}
	g.Eventf(rc, corev1.EventTypeWarning, "FailedCreate", "Error creating: x")
	g.Eventf(other, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: q")
	if got := len(fake.Events); got != 27 {
		t.Fatalf("%d events through, want 25 of one kind plus one of each other", got)
	}
	clk.SetTime(clk.Now().Add(5 * time.Minute))
	g.Eventf(rc, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: later")
	g.Eventf(rc, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: too soon")
	if got := len(fake.Events); got != 28 {
		t.Fatalf("%d events through after five minutes, want one more", got)
	}
	g.forget(rc.UID)
	g.Eventf(rc, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: new RC")
	if got := len(fake.Events); got != 29 {
		t.Fatalf("a forgotten object starts with a fresh burst: %d events", got)
	}
}
