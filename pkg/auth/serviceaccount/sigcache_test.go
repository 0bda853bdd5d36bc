package serviceaccount

import (
	"strings"
	"testing"
	"time"
)

// TestVerifiedSignaturesAreCached: a token seen again skips the signature
// check, but nothing else: it is refused once its pod is gone, once it has
// expired, for another audience; a token differing in one character is no
// hit; the cache stays within its bound.
func TestVerifiedSignaturesAreCached(t *testing.T) {
	f := newFixture(t)
	tok := f.issue(t, podClaims())
	now := t0.Add(time.Minute)
	if _, err := f.verifier.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.verifier.sigs.get(tok); !ok {
		t.Fatal("a verified token is not cached")
	}
	// A hit takes no signature check: with the keys gone, it still passes.
	keys := f.verifier.keys
	f.verifier.keys = nil
	if _, err := f.verifier.Verify(tok, now); err != nil {
		t.Fatalf("a cached token: %v", err)
	}
	// One character off is not the cached token, and without keys it fails.
	flip := byte('A')
	if tok[len(tok)-2] == 'A' {
		flip = 'B'
	}
	tampered := tok[:len(tok)-2] + string(flip) + tok[len(tok)-1:]
	if _, err := f.verifier.Verify(tampered, now); err == nil {
		t.Error("a token one character off the cached one was accepted")
	}
	f.verifier.keys = keys

	if _, err := f.verifier.Verify(tok, t0.Add(2*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("a cached token past its expiry: %v", err)
	}
	if _, err := f.verifier.VerifyAudiences(tok, now, []string{"vault"}); err == nil {
		t.Error("a cached token for another audience was accepted")
	}
	delete(f.objects, "pod/default/web-0")
	if _, err := f.verifier.Verify(tok, now); err == nil {
		t.Error("a cached token whose pod is gone was accepted")
	}

	// Bad tokens never get in.
	before := len(f.verifier.sigs.entries)
	for _, bad := range []string{"", "a.b.c", tampered, tok + "x"} {
		_, _ = f.verifier.Verify(bad, now)
	}
	if len(f.verifier.sigs.entries) != before {
		t.Errorf("bad tokens were cached: %d entries, want %d", len(f.verifier.sigs.entries), before)
	}
	// The bound holds.
	for i := 0; i < sigCacheSize+10; i++ {
		f.verifier.sigs.put(tok+string(rune('a'+i%26))+strings.Repeat("x", i/26), verified{})
	}
	if n := len(f.verifier.sigs.entries); n > sigCacheSize {
		t.Errorf("%d cached signatures, want at most %d", n, sigCacheSize)
	}
}

// BenchmarkVerifyFirstSight is a token's first verification: the signature
// check, which BenchmarkVerify (the same token again) skips.
func BenchmarkVerifyFirstSight(b *testing.B) {
	f := newFixture(b)
	tok := f.issue(b, podClaims())
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		f.verifier.sigs = sigCache{}
		if _, err := f.verifier.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
