package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/skiffhq/skiff/pkg/storage"
)

// TestCompactInSteps compacts more history than one step deletes.
func TestCompactInSteps(t *testing.T) {
	defer func(n int64) { compactChunk = n }(compactChunk)
	compactChunk = 3

	ctx := context.Background()
	b, err := Open(filepath.Join(t.TempDir(), "skiff.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 20 {
		if _, err := b.Create(ctx, fmt.Sprintf("/k/%02d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Compact(ctx, 17); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Watch(ctx, "/", 16); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("Watch after 16 with history compacted to 17: %v, want ErrCompacted", err)
	}
	events, _, err := b.history("/", 17, 20, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[0].Revision() != 18 {
		t.Fatalf("history after compaction: %d events from %d, want 3 from 18", len(events), events[0].Revision())
	}
	// Nothing at or below 17 is left in the log.
	var first int64
	var n int
	err = b.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(logBucket).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if n++; n == 1 {
				first, _ = decodeRev(k)
			}
		}
		return nil
	})
	if err != nil || n != 3 || first != 18 {
		t.Fatalf("log holds %d entries from revision %d (%v), want 3 from 18", n, first, err)
	}
}
