package hollow

import (
	"errors"
	"net/netip"
	"testing"
)

func TestIPPoolHandsOutSequentiallySkippingNetworkAndGateway(t *testing.T) {
	p, err := newIPPool("10.42.3.0/24")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"10.42.3.2", "10.42.3.3", "10.42.3.4"} {
		got, err := p.allocate(string(rune('a' + i)))
		if err != nil || got.String() != want {
			t.Fatalf("allocation %d = %v, %v; want %s", i, got, err, want)
		}
	}
	// A released address is not the next one handed out.
	p.release(netip.MustParseAddr("10.42.3.2"), "a")
	if got, _ := p.allocate("d"); got.String() != "10.42.3.5" {
		t.Fatalf("after a release got %s, want 10.42.3.5", got)
	}
	// Releasing someone else's address does nothing.
	p.release(netip.MustParseAddr("10.42.3.3"), "z")
	if p.reserve(netip.MustParseAddr("10.42.3.3"), "z") {
		t.Fatal("reserved an address another pod holds")
	}
	if !p.reserve(netip.MustParseAddr("10.42.3.200"), "y") || !p.reserve(netip.MustParseAddr("10.42.3.200"), "y") {
		t.Fatal("could not reserve a free address (twice, for the same pod)")
	}
	for _, bad := range []string{"10.42.3.0", "10.42.3.1", "10.42.3.255", "10.42.4.7"} {
		if p.reserve(netip.MustParseAddr(bad), "x") {
			t.Errorf("reserved %s, which the pool does not hand out", bad)
		}
	}
}

func TestIPPoolWrapsAndFills(t *testing.T) {
	p, err := newIPPool("10.0.0.0/29") // .2 - .6
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 5 {
		a, err := p.allocate(string(rune('a' + i)))
		if err != nil {
			t.Fatal(err)
		}
		seen[a.String()] = true
	}
	if len(seen) != 5 {
		t.Fatalf("got %v", seen)
	}
	if _, err := p.allocate("f"); !errors.Is(err, errNoPodIPs) {
		t.Fatalf("full pool: %v", err)
	}
	p.release(netip.MustParseAddr("10.0.0.4"), "c")
	if a, err := p.allocate("g"); err != nil || a.String() != "10.0.0.4" {
		t.Fatalf("after wrap got %v, %v", a, err)
	}
}

func TestIPPoolIPv6(t *testing.T) {
	p, err := newIPPool("fd00:42:0:5::/64")
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.allocate("a")
	if err != nil || a.String() != "fd00:42:0:5::2" {
		t.Fatalf("got %v, %v", a, err)
	}
	if !p.contains(a) || p.contains(netip.MustParseAddr("fd00:42:0:6::2")) {
		t.Fatal("contains is wrong")
	}
}

func TestMadeUpAddress(t *testing.T) {
	for name, want := range map[string]string{
		"hollow-1":   "10.255.0.1",
		"hollow-300": "10.255.1.44",
	} {
		if got := madeUpAddress(name).String(); got != want {
			t.Errorf("%s: got %s, want %s", name, got, want)
		}
	}
	a, b := madeUpAddress("node-a"), madeUpAddress("node-b")
	if a == b || a != madeUpAddress("node-a") {
		t.Errorf("hashed addresses: %s %s", a, b)
	}
	if !netip.MustParsePrefix("10.128.0.0/9").Contains(a) {
		t.Errorf("%s outside 10.128.0.0/9", a)
	}
}
