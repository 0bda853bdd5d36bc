package nodeipam

import (
	"errors"
	"net"
	"testing"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCIDRSetAllocatesEverySubnetOnce(t *testing.T) {
	s, err := newCIDRSet(mustCIDR(t, "10.42.0.0/22"), 24)
	if err != nil {
		t.Fatal(err)
	}
	s.occupy(mustCIDR(t, "10.42.1.0/24"))
	var got []string
	for range 3 {
		n, err := s.allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n.String())
	}
	want := []string{"10.42.0.0/24", "10.42.2.0/24", "10.42.3.0/24"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if _, err := s.allocate(); !errors.Is(err, ErrCIDRRangeFull) {
		t.Fatalf("full set: %v", err)
	}
	s.release(mustCIDR(t, "10.42.2.0/24"))
	if n, err := s.allocate(); err != nil || n.String() != "10.42.2.0/24" {
		t.Fatalf("after release: %v, %v", n, err)
	}
}

func TestCIDRSetOccupyOddSizes(t *testing.T) {
	tests := []struct {
		occupy string
		inUse  int
	}{
		{"10.42.0.0/23", 2},   // covers two subnets
		{"10.42.3.128/25", 1}, // inside one
		{"10.40.0.0/14", 4},   // contains the whole cluster CIDR
		{"192.168.0.0/24", 0}, // elsewhere
		{"fd00::/64", 0},      // other family
		{"10.42.0.0/24", 1},   // exactly one
	}
	for _, tt := range tests {
		s, err := newCIDRSet(mustCIDR(t, "10.42.0.0/22"), 24)
		if err != nil {
			t.Fatal(err)
		}
		s.occupy(mustCIDR(t, tt.occupy))
		if s.inUse != tt.inUse {
			t.Errorf("occupy %s: %d in use, want %d", tt.occupy, s.inUse, tt.inUse)
		}
	}
}

func TestCIDRSetIPv6AndLimits(t *testing.T) {
	s, err := newCIDRSet(mustCIDR(t, "fd00:42::/56"), 64)
	if err != nil {
		t.Fatal(err)
	}
	s.allocate()
	n, _ := s.allocate()
	if n.String() != "fd00:42:0:1::/64" {
		t.Fatalf("got %s", n)
	}
	if _, err := newCIDRSet(mustCIDR(t, "10.0.0.0/8"), 28); err == nil {
		t.Fatal("2^20 subnets accepted")
	}
	if _, err := newCIDRSet(mustCIDR(t, "10.42.0.0/16"), 12); err == nil {
		t.Fatal("subnet larger than the cluster CIDR accepted")
	}
}
