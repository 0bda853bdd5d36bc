package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
)

func testCreateGet(t *testing.T, b storage.Backend) {
	start := mustRevision(t, b)
	if start < 0 {
		t.Fatalf("empty backend at revision %d, want >= 0", start)
	}
	rev := mustCreate(t, b, "/pods/a", "one")
	if rev <= start {
		t.Fatalf("Create returned revision %d, want > %d, the revision before it", rev, start)
	}
	checkKV(t, "Get", mustGet(t, b, "/pods/a"), storage.KeyValue{Key: "/pods/a", Value: []byte("one"), CreateRevision: rev, ModRevision: rev})
	if got := mustRevision(t, b); got != rev {
		t.Errorf("CurrentRevision = %d, want %d", got, rev)
	}
	// An empty value is a value.
	rev = mustCreate(t, b, "/pods/empty", "")
	checkKV(t, "Get", mustGet(t, b, "/pods/empty"), storage.KeyValue{Key: "/pods/empty", Value: []byte{}, CreateRevision: rev, ModRevision: rev})
}

func testValuesAreCopied(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	in := []byte("original")
	if _, err := b.Create(ctx, "/k", in); err != nil {
		t.Fatal(err)
	}
	copy(in, "CHANGED!")
	out := mustGet(t, b, "/k")
	if string(out.Value) != "original" {
		t.Fatalf("changing the slice passed to Create changed the stored value to %q", out.Value)
	}
	copy(out.Value, "CHANGED!")
	if got := mustGet(t, b, "/k").Value; string(got) != "original" {
		t.Fatalf("changing the slice Get returned changed the stored value to %q", got)
	}
	kvs, _, err := b.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	copy(kvs[0].Value, "CHANGED!")
	if got := mustGet(t, b, "/k").Value; string(got) != "original" {
		t.Fatalf("changing the slice List returned changed the stored value to %q", got)
	}
}

func testErrors(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	rev := mustCreate(t, b, "/exists", "v")
	tests := []struct {
		name string
		key  string
		call func(key string) error
		want error
	}{
		{"Get missing", "/missing", func(k string) error { _, err := b.Get(ctx, k); return err }, storage.ErrNotFound},
		{"Create existing", "/exists", func(k string) error { _, err := b.Create(ctx, k, []byte("w")); return err }, storage.ErrKeyExists},
		{"Update missing", "/missing", func(k string) error { _, err := b.Update(ctx, k, []byte("w"), 0); return err }, storage.ErrNotFound},
		{"Update missing with revision", "/missing", func(k string) error { _, err := b.Update(ctx, k, []byte("w"), rev); return err }, storage.ErrNotFound},
		{"Delete missing", "/missing", func(k string) error { _, err := b.Delete(ctx, k, 0); return err }, storage.ErrNotFound},
		{"Update stale", "/exists", func(k string) error { _, err := b.Update(ctx, k, []byte("w"), rev+100); return err }, storage.ErrConflict},
		{"Delete stale", "/exists", func(k string) error { _, err := b.Delete(ctx, k, rev+100); return err }, storage.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.key)
			wantErr(t, tc.name, err, tc.want)
			// The caller must be able to tell which key failed.
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name the key %q", err, tc.key)
			}
			if got := mustRevision(t, b); got != rev {
				t.Errorf("a failed write moved the revision from %d to %d", rev, got)
			}
		})
	}
	checkKV(t, "Get after failed writes", mustGet(t, b, "/exists"), storage.KeyValue{Key: "/exists", Value: []byte("v"), CreateRevision: rev, ModRevision: rev})
	if _, err := b.Create(ctx, "", []byte("v")); err == nil {
		t.Error("Create with an empty key succeeded")
	}
}

func testUpdate(t *testing.T, b storage.Backend) {
	tests := []struct {
		name string
		// expected picks the revision to pass from the key's create and last update.
		expected func(created, updated int64) int64
		want     error
	}{
		{"current revision", func(_, updated int64) int64 { return updated }, nil},
		{"zero is unconditional", func(_, _ int64) int64 { return 0 }, nil},
		{"stale revision", func(created, _ int64) int64 { return created }, storage.ErrConflict},
		{"future revision", func(_, updated int64) int64 { return updated + 1000 }, storage.ErrConflict},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("/update/%d", i)
			created := mustCreate(t, b, key, "v1")
			updated := mustUpdate(t, b, key, "v2", created)
			before := mustRevision(t, b)

			rev, err := b.Update(context.Background(), key, []byte("v3"), tc.expected(created, updated))
			if tc.want != nil {
				wantErr(t, "Update", err, tc.want)
				checkKV(t, "Get after failed Update", mustGet(t, b, key), storage.KeyValue{Key: key, Value: []byte("v2"), CreateRevision: created, ModRevision: updated})
				if got := mustRevision(t, b); got != before {
					t.Errorf("failed Update moved the revision from %d to %d", before, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if rev != before+1 {
				t.Errorf("Update returned revision %d, want %d", rev, before+1)
			}
			checkKV(t, "Get", mustGet(t, b, key), storage.KeyValue{Key: key, Value: []byte("v3"), CreateRevision: created, ModRevision: rev})
		})
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	tests := []struct {
		name     string
		expected func(created, updated int64) int64
		want     error
	}{
		{"current revision", func(_, updated int64) int64 { return updated }, nil},
		{"zero is unconditional", func(_, _ int64) int64 { return 0 }, nil},
		{"stale revision", func(created, _ int64) int64 { return created }, storage.ErrConflict},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			key := fmt.Sprintf("/delete/%d", i)
			created := mustCreate(t, b, key, "v1")
			updated := mustUpdate(t, b, key, "v2", created)
			before := mustRevision(t, b)

			rev, err := b.Delete(ctx, key, tc.expected(created, updated))
			if tc.want != nil {
				wantErr(t, "Delete", err, tc.want)
				checkKV(t, "Get after failed Delete", mustGet(t, b, key), storage.KeyValue{Key: key, Value: []byte("v2"), CreateRevision: created, ModRevision: updated})
				return
			}
			if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if rev != before+1 || mustRevision(t, b) != rev {
				t.Errorf("Delete returned revision %d and current is %d, want both %d", rev, mustRevision(t, b), before+1)
			}
			_, err = b.Get(ctx, key)
			wantErr(t, "Get after Delete", err, storage.ErrNotFound)
			_, err = b.Delete(ctx, key, 0)
			wantErr(t, "second Delete", err, storage.ErrNotFound)
			// The key can come back, as a new key.
			again := mustCreate(t, b, key, "v3")
			checkKV(t, "Get after re-Create", mustGet(t, b, key), storage.KeyValue{Key: key, Value: []byte("v3"), CreateRevision: again, ModRevision: again})
		})
	}
}

func testCreateRevisionPreserved(t *testing.T, b storage.Backend) {
	created := mustCreate(t, b, "/k", "0")
	mustCreate(t, b, "/other", "x")
	rev := created
	for i := 1; i <= 3; i++ {
		rev = mustUpdate(t, b, "/k", fmt.Sprint(i), rev)
		checkKV(t, fmt.Sprintf("Get after update %d", i), mustGet(t, b, "/k"),
			storage.KeyValue{Key: "/k", Value: []byte(fmt.Sprint(i)), CreateRevision: created, ModRevision: rev})
	}
}

// testRevisionsIncrease checks that every successful write, whatever its key, takes
// exactly the next revision and that failed writes take none.
func testRevisionsIncrease(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	last := mustRevision(t, b)
	next := func(what string, rev int64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if rev != last+1 {
			t.Fatalf("%s: revision %d, want %d", what, rev, last+1)
		}
		last = rev
		if cur := mustRevision(t, b); cur != rev {
			t.Fatalf("%s: CurrentRevision %d, want %d", what, cur, rev)
		}
	}
	for i := range 5 {
		rev, err := b.Create(ctx, fmt.Sprintf("/r/%d", i), []byte("x"))
		next("Create", rev, err)
		if _, err := b.Create(ctx, fmt.Sprintf("/r/%d", i), []byte("x")); err == nil {
			t.Fatal("duplicate Create succeeded")
		}
		rev, err = b.Update(ctx, "/r/0", []byte(fmt.Sprint(i)), 0)
		next("Update", rev, err)
	}
	rev, err := b.Delete(ctx, "/r/3", 0)
	next("Delete", rev, err)
	rev, err = b.Create(ctx, "/r/3", nil)
	next("Create after Delete", rev, err)
}

// testConcurrentCAS checks that writes racing on one key are each judged on their
// own: exactly one of them wins, and the losers fail without taking others down.
func testConcurrentCAS(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	const n = 16
	race := func(what string, want error, op func(i int) (int64, error)) {
		t.Helper()
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			wins     []int64
			failures = map[string]int{}
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rev, err := op(i)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins = append(wins, rev)
				case errors.Is(err, want):
					failures[want.Error()]++
				default:
					failures[err.Error()]++
				}
			}()
		}
		wg.Wait()
		if len(wins) != 1 || failures[want.Error()] != n-1 {
			t.Fatalf("%s: %d winners %v and failures %v, want 1 winner and %d × %v", what, len(wins), wins, failures, n-1, want)
		}
	}

	race("Create", storage.ErrKeyExists, func(i int) (int64, error) {
		return b.Create(ctx, "/cas", []byte(fmt.Sprint(i)))
	})
	rev := mustGet(t, b, "/cas").ModRevision
	race("Update", storage.ErrConflict, func(i int) (int64, error) {
		return b.Update(ctx, "/cas", []byte(fmt.Sprint(i)), rev)
	})
	rev = mustGet(t, b, "/cas").ModRevision
	// Once one delete wins, the key is gone for the others.
	race("Delete", storage.ErrNotFound, func(int) (int64, error) {
		return b.Delete(ctx, "/cas", rev)
	})
}

func testList(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	start := mustRevision(t, b)
	kvs, rev, err := b.List(ctx, "/")
	if err != nil || len(kvs) != 0 || rev != start {
		t.Fatalf("List on an empty backend = %v, %d, %v; want nothing at revision %d", kvs, rev, err, start)
	}
	// Created out of order; "/a/b/10" sorts before "/a/b/2" in byte order.
	for _, k := range []string{"/a/bc/1", "/a/b/2", "/b", "/a/b", "/a/b/10", "/a/bc", "/a/b/1", "/a", "/a/b/\xff"} {
		mustCreate(t, b, k, "value of "+k)
	}
	mustUpdate(t, b, "/a/b/2", "changed", 0)
	mustDelete(t, b, "/a/bc", 0)
	mustCreate(t, b, "/a/b/3", "value of /a/b/3")
	current := mustRevision(t, b)

	tests := []struct {
		prefix string
		want   string
	}{
		{"/a/b/", "/a/b/1 /a/b/10 /a/b/2 /a/b/3 /a/b/\xff"},
		{"/a/b", "/a/b /a/b/1 /a/b/10 /a/b/2 /a/b/3 /a/b/\xff /a/bc/1"},
		{"/a/bc/", "/a/bc/1"},
		{"/a/bc", "/a/bc/1"},
		{"/", "/a /a/b /a/b/1 /a/b/10 /a/b/2 /a/b/3 /a/b/\xff /a/bc/1 /b"},
		{"", "/a /a/b /a/b/1 /a/b/10 /a/b/2 /a/b/3 /a/b/\xff /a/bc/1 /b"},
		{"/a/b/1", "/a/b/1 /a/b/10"},
		{"/c", ""},
		{"/a/b/2/", ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			kvs, rev, err := b.List(ctx, tc.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if got := keysOf(kvs); got != tc.want {
				t.Errorf("List(%q) keys = %q, want %q", tc.prefix, got, tc.want)
			}
			if rev != current {
				t.Errorf("List(%q) revision = %d, want %d", tc.prefix, rev, current)
			}
			for _, kv := range kvs {
				checkKV(t, "List entry", kv, mustGet(t, b, kv.Key))
			}
		})
	}
}

func testCanceledContext(t *testing.T, b storage.Backend) {
	rev := mustCreate(t, b, "/k", "v")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := b.Get(ctx, "/k"); return err }},
		{"List", func() error { _, _, err := b.List(ctx, "/"); return err }},
		{"Create", func() error { _, err := b.Create(ctx, "/new", []byte("v")); return err }},
		{"Update", func() error { _, err := b.Update(ctx, "/k", []byte("w"), 0); return err }},
		{"Delete", func() error { _, err := b.Delete(ctx, "/k", 0); return err }},
		{"Watch", func() error { _, err := b.Watch(ctx, "/", 0); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, tc.call(), context.Canceled)
		})
	}
	// None of the canceled writes happened.
	checkKV(t, "Get", mustGet(t, b, "/k"), storage.KeyValue{Key: "/k", Value: []byte("v"), CreateRevision: rev, ModRevision: rev})
	if _, err := b.Get(context.Background(), "/new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of a key created with a canceled context: %v, want ErrNotFound", err)
	}
}

func testClosed(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	rev := mustCreate(t, b, "/k", "v")
	watch := mustWatch(t, ctx, b, "/", 0)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, watch)
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := b.Get(ctx, "/k"); return err }},
		{"List", func() error { _, _, err := b.List(ctx, "/"); return err }},
		{"Create", func() error { _, err := b.Create(ctx, "/new", []byte("v")); return err }},
		{"Update", func() error { _, err := b.Update(ctx, "/k", []byte("w"), rev); return err }},
		{"Delete", func() error { _, err := b.Delete(ctx, "/k", rev); return err }},
		{"Watch", func() error { _, err := b.Watch(ctx, "/", 0); return err }},
		{"Compact", func() error { return b.Compact(ctx, rev) }},
		{"CurrentRevision", func() error { _, err := b.CurrentRevision(ctx); return err }},
		{"CompactedRevision", func() error { _, err := b.CompactedRevision(ctx); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name+" after Close", tc.call(), storage.ErrClosed)
		})
	}
}
