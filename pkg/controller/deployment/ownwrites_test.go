package deployment

import (
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

func TestOwnWritesWaitUntilObserved(t *testing.T) {
	type step struct {
		do          string // "wrote", "observed", "step", "forget"
		object, rv  string
		cached      string // the informer's version when the write returns
		wantPending bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a write waits for its version", []step{
			{do: "wrote", object: "rs/a", rv: "5", cached: "4", wantPending: true},
			{do: "observed", object: "rs/a", rv: "4", wantPending: true},
			{do: "observed", object: "rs/a", rv: "5", wantPending: false},
		}},
		{"already in the cache when the write returns", []step{
			{do: "wrote", object: "rs/a", rv: "5", cached: "5", wantPending: false},
		}},
		{"every object written", []step{
			{do: "wrote", object: "rs/a", rv: "5", cached: "4", wantPending: true},
			{do: "wrote", object: "deployment/d", rv: "6", cached: "3", wantPending: true},
			{do: "observed", object: "deployment/d", rv: "6", wantPending: true},
			{do: "observed", object: "rs/a", rv: "5", wantPending: false},
		}},
		{"a second write of one object replaces the first", []step{
			{do: "wrote", object: "rs/a", rv: "5", cached: "4", wantPending: true},
			{do: "wrote", object: "rs/a", rv: "7", cached: "4", wantPending: true},
			{do: "observed", object: "rs/a", rv: "5", wantPending: true},
			{do: "observed", object: "rs/a", rv: "7", wantPending: false},
		}},
		{"a deletion ends the wait", []step{
			{do: "wrote", object: "rs/a", rv: "5", cached: "4", wantPending: true},
			{do: "observed", object: "rs/a", rv: "", wantPending: false},
		}},
		{"a version that never comes is waited for only so long", []step{
			{do: "wrote", object: "rs/a", rv: "5", cached: "4", wantPending: true},
			{do: "step", wantPending: false},
			{do: "observed", object: "rs/a", rv: "5", wantPending: false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(time.Unix(0, 0))
			w := newOwnWrites(clk.Now)
			for i, s := range tc.steps {
				switch s.do {
				case "wrote":
					w.wrote("default/web", s.object, s.rv, func() string { return s.cached })
				case "observed":
					w.observed(s.object, s.rv)
				case "step":
					clk.Step(ownWritesTTL + time.Second)
				}
				if _, got := w.pending("default/web"); got != s.wantPending {
					t.Fatalf("step %d (%s %s %s): pending = %v, want %v", i, s.do, s.object, s.rv, got, s.wantPending)
				}
			}
		})
	}
}
