package apiserver

import (
	"bytes"
	"testing"
)

// TestHistoryBounds: the watch history keeps the newest events within both its
// count and its bytes, and says from which revision on it is complete.
func TestHistoryBounds(t *testing.T) {
	// Every event counts entryOverhead bytes besides its encodings.
	c := &cache{history: make([]*event, 4), histMaxBytes: 100 + 4*entryOverhead, rev: 10}
	if got := c.oldestRevLocked(); got != 10 {
		t.Fatalf("empty history: oldest %d, want the load revision 10", got)
	}
	add := func(rev int64, size int) {
		c.record(&event{rev: rev, cur: &entry{raw: bytes.Repeat([]byte("x"), size)}})
		c.rev = rev
	}
	add(11, 10)
	add(12, 10)
	if got := c.oldestRevLocked(); got != 10 || c.histLen != 2 {
		t.Fatalf("oldest %d with %d events, want 10 with 2", got, c.histLen)
	}
	add(13, 10)
	add(14, 10)
	add(15, 10) // count bound: 11 goes
	if got := c.oldestRevLocked(); got != 11 || c.histLen != 4 {
		t.Fatalf("oldest %d with %d events, want 11 with 4", got, c.histLen)
	}
	add(16, 75) // 12 goes for the count, 13 for the bytes (10+10+75 fits, 10+10+10+75 does not)
	if got := c.oldestRevLocked(); got != 13 || c.histLen != 3 || c.histBytes != 95+3*entryOverhead {
		t.Fatalf("oldest %d with %d events of %d bytes, want 13 with 3 of 95", got, c.histLen, c.histBytes)
	}
	add(17, 100+4*entryOverhead) // bigger than the bound: kept alone
	if got := c.oldestRevLocked(); got != 16 || c.histLen != 1 {
		t.Fatalf("oldest %d with %d events, want 16 with 1", got, c.histLen)
	}
	for i, e := range c.history {
		if e != nil && e.rev != 17 {
			t.Errorf("slot %d still holds dropped revision %d", i, e.rev)
		}
	}
}
