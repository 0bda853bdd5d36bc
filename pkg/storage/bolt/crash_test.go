package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/storagetest"
)

var crash = storagetest.CrashConfig{
	Open: func(t *testing.T, dir string) storage.Backend {
		return open(t, filepath.Join(dir, "skiff.db"))
	},
	// bolt numbers every write itself, so it promises more than a shared store can:
	// its log has an event at every revision, and the counter goes on from exactly
	// where the file is.
	Check: func(t *testing.T, r storagetest.Recovered) {
		for i, ev := range r.History {
			if want := int64(i + 1); ev.Revision() != want {
				t.Fatalf("the log's event %d is at revision %d, want %d", i, ev.Revision(), want)
			}
		}
		if int64(len(r.History)) != r.Current {
			t.Fatalf("the log has %d events up to revision %d, want one per revision", len(r.History), r.Current)
		}
		if r.Next != r.Current+1 {
			t.Errorf("Create after the crash = revision %d, want %d", r.Next, r.Current+1)
		}
	},
}

// TestCrash kills a writing process with SIGKILL and checks that every write it
// acknowledged is in the file, at the revision it was acknowledged with.
func TestCrash(t *testing.T) { storagetest.RunCrash(t, crash) }

// TestCrashChild is the process TestCrash kills.
func TestCrashChild(t *testing.T) { storagetest.CrashChild(t, crash) }
