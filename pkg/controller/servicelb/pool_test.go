package servicelb

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func mustPool(t *testing.T, cidr string) *pool {
	t.Helper()
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPool(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPoolRange(t *testing.T) {
	for _, tc := range []struct {
		cidr, first, last string
		size              uint64
	}{
		{"192.0.2.0/24", "192.0.2.1", "192.0.2.254", 254},
		{"192.0.2.8/30", "192.0.2.9", "192.0.2.10", 2},
		{"192.0.2.8/31", "192.0.2.8", "192.0.2.9", 2},
		{"192.0.2.7/32", "192.0.2.7", "192.0.2.7", 1},
		{"2001:db8::/126", "2001:db8::1", "2001:db8::3", 3},
		{"2001:db8::/64", "2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff", 1<<64 - 1},
	} {
		p := mustPool(t, tc.cidr)
		if p.first.String() != tc.first || p.last.String() != tc.last || p.size != tc.size {
			t.Errorf("%s: %s..%s (%d), want %s..%s (%d)", tc.cidr, p.first, p.last, p.size, tc.first, tc.last, tc.size)
		}
	}
}

func TestPoolAllocation(t *testing.T) {
	p := mustPool(t, "192.0.2.0/29") // .1 to .6
	got := map[string]string{}
	for _, key := range []string{"a", "b", "c"} {
		a, err := p.allocate(key)
		if err != nil {
			t.Fatal(err)
		}
		got[key] = a.String()
	}
	if got["a"] != "192.0.2.1" || got["b"] != "192.0.2.2" || got["c"] != "192.0.2.3" {
		t.Errorf("allocations %v", got)
	}
	// Asking again returns the same address.
	if a, _ := p.allocate("b"); a.String() != "192.0.2.2" {
		t.Errorf("b asked again and got %s", a)
	}
	// A held address cannot be claimed by another; a free one can, and the
	// claimer gives up its old one.
	if p.claim("a", netip.MustParseAddr("192.0.2.2")) {
		t.Error("a claimed b's address")
	}
	if p.claim("x", netip.MustParseAddr("198.51.100.1")) {
		t.Error("claimed an address outside the pool")
	}
	if !p.claim("a", netip.MustParseAddr("192.0.2.6")) {
		t.Error("a could not claim a free address")
	}
	// .1 is free again; the search goes on from where it stopped, then wraps.
	for _, want := range []string{"192.0.2.4", "192.0.2.5", "192.0.2.1"} {
		key := "n" + want
		a, err := p.allocate(key)
		if err != nil || a.String() != want {
			t.Errorf("allocate(%s) = %s, %v; want %s", key, a, err, want)
		}
	}
	if _, err := p.allocate("late"); !errors.Is(err, errPoolExhausted) {
		t.Errorf("allocate from a full pool: %v", err)
	}
	if !p.release("c") || p.release("c") {
		t.Error("release should free c's address exactly once")
	}
	if a, err := p.allocate("late"); err != nil || a.String() != "192.0.2.3" {
		t.Errorf("after release: %s, %v", a, err)
	}
}
