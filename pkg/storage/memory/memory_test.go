package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/memory"
	"github.com/skiffhq/skiff/pkg/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.RunContract(t, func(t *testing.T) storage.Backend { return memory.New() })
}

func TestHistoryLimit(t *testing.T) {
	ctx := context.Background()
	b := memory.New(memory.WithHistoryLimit(10))
	defer b.Close()
	var rev int64
	for i := range 100 {
		var err error
		if rev, err = b.Create(ctx, fmt.Sprintf("/k/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Watch(ctx, "/", 0); !errors.Is(err, storage.ErrCompacted) {
		t.Errorf("Watch from 0 with a history limit of 10 after 100 writes: %v, want ErrCompacted", err)
	}
	ch, err := b.Watch(ctx, "/", rev-10)
	if err != nil {
		t.Fatalf("Watch within the history limit: %v", err)
	}
	if ev := <-ch; ev.Revision() != rev-9 {
		t.Errorf("first replayed revision %d, want %d", ev.Revision(), rev-9)
	}
}
