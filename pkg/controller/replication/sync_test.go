package replication

import (
	"errors"
	"testing"
)

// TestFirstBatches: a slow start begins at 1 until creates have succeeded, then
// where the last sync got to (at most maxInFlight), and at 1 again after a
// failure or for a new RC.
func TestFirstBatches(t *testing.T) {
	f := &firstBatches{m: map[string]int{}}
	steps := []struct {
		created int
		err     error
		want    int // first batch of the next sync
	}{
		{0, nil, 1},
		{8, nil, 8},
		{500, nil, maxInFlight},
		{3, errors.New("quota"), 1},
		{500, nil, maxInFlight},
	}
	if got := f.get("ns/rc"); got != 1 {
		t.Fatalf("first sync starts at %d, want 1", got)
	}
	for _, s := range steps {
		f.learn("ns/rc", s.created, s.err)
		if got := f.get("ns/rc"); got != s.want {
			t.Fatalf("after %d created (err %v): next starts at %d, want %d", s.created, s.err, got, s.want)
		}
	}
	if got := f.get("ns/other"); got != 1 {
		t.Errorf("another RC starts at %d, want 1", got)
	}
	f.forget("ns/rc")
	if got := f.get("ns/rc"); got != 1 {
		t.Errorf("a forgotten RC starts at %d, want 1", got)
	}
}
