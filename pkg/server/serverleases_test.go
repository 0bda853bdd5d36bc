package server

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// TestServerLeasesEndpoints: the kubernetes Service's endpoints are the servers
// whose lease is live; a server that died drops out when its lease runs out,
// one that stops at once; the last one standing stays listed.
func TestServerLeasesEndpoints(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	server := func(name, ip string) *serverLeases {
		l := newServerLeases(client, name, name, net.ParseIP(ip), 6443, slog.New(slog.DiscardHandler))
		l.now = clock
		return l
	}
	a, b := server("a", "192.0.2.1"), server("b", "192.0.2.2")
	endpoints := func() []string {
		ep, err := client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, s := range ep.Subsets {
			for _, addr := range s.Addresses {
				out = append(out, addr.IP)
			}
		}
		slice, err := client.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return []string{err.Error()}
		}
		var inSlice []string
		for _, e := range slice.Endpoints {
			inSlice = append(inSlice, e.Addresses...)
		}
		if !slices.Equal(out, inSlice) {
			return append(out, "but the slice says", slice.String())
		}
		return out
	}
	step := func(l *serverLeases, except string) {
		t.Helper()
		if err := l.renew(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.reconcile(ctx, except); err != nil {
			t.Fatal(err)
		}
	}
	step(a, "")
	step(b, "")
	if got := endpoints(); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2"}) {
		t.Fatalf("two live servers: endpoints %v", got)
	}
	lease, err := client.CoordinationV1().Leases("kube-system").Get(ctx, leaseName("a"), metav1.GetOptions{})
	if err != nil || lease.Labels[identityLabel] != identityComponent || ptr.Deref(lease.Spec.HolderIdentity, "") != "a" {
		t.Fatalf("server a's lease %+v (%v)", lease, err)
	}

	// a dies: b renews; a drops out once its lease has run out, not before.
	now = now.Add(serverLeaseDuration - time.Second)
	step(b, "")
	if got := endpoints(); len(got) != 2 {
		t.Fatalf("a's lease not yet out: endpoints %v", got)
	}
	now = now.Add(2 * time.Second)
	step(b, "")
	if got := endpoints(); !slices.Equal(got, []string{"192.0.2.2"}) {
		t.Fatalf("a's lease out: endpoints %v", got)
	}

	// a comes back, then b stops: b is out at once.
	step(a, "")
	b.leave(ctx)
	if got := endpoints(); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Fatalf("b stopped: endpoints %v", got)
	}
	// The last one standing stops: it stays listed.
	a.leave(ctx)
	if got := endpoints(); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Fatalf("the last server stopped: endpoints %v", got)
	}
}
