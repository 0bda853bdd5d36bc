package expectations

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := New(func() time.Time { return now })
	if !e.Satisfied("ns/rc") {
		t.Fatal("no record must mean satisfied")
	}
	e.ExpectCreations("ns/rc", 2)
	e.CreationObserved("ns/rc")
	if e.Satisfied("ns/rc") {
		t.Fatal("satisfied with one creation outstanding")
	}
	e.CreationObserved("ns/rc")
	if !e.Satisfied("ns/rc") {
		t.Fatal("not satisfied after both creations")
	}
	e.ExpectDeletions("ns/rc", []string{"ns/a", "ns/b"})
	e.DeletionObserved("ns/rc", "ns/a")
	e.DeletionObserved("ns/rc", "ns/a") // the second event for the same pod counts nothing
	if e.Satisfied("ns/rc") {
		t.Fatal("satisfied with ns/b outstanding")
	}
	now = now.Add(TTL + time.Second)
	if !e.Satisfied("ns/rc") {
		t.Fatal("an expired record must not block the RC")
	}
	e.Expect("ns/rc", 1, []string{"ns/c"})
	e.CreationObserved("ns/rc")
	if e.Satisfied("ns/rc") {
		t.Fatal("satisfied with ns/c outstanding")
	}
	e.Forget("ns/rc")
	if !e.Satisfied("ns/rc") {
		t.Fatal("forgotten")
	}
}
