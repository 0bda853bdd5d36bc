package etcd_test

import (
	"fmt"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// TestListPages reads a prefix in pages of two keys while another client writes to
// it: every List is the prefix at one revision, the one it returns.
func TestListPages(t *testing.T) {
	ctx := t.Context()
	s := etcdtest.Start(t, t.TempDir(), false)
	raw := newClient(t, s)
	b := newBackend(t, s, "/skiff", etcd.WithPageSize(2))
	for i := range 40 {
		if _, err := b.Create(ctx, fmt.Sprintf("/list/%02d", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"/lis", "/list", "/listing/x"} {
		if _, err := b.Create(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// A key appears at the end, one goes from the front, one changes.
			if _, err := b.Create(ctx, fmt.Sprintf("/list/%02d", 40+i), []byte("new")); err != nil {
				t.Error(err)
				return
			}
			if _, err := b.Delete(ctx, fmt.Sprintf("/list/%02d", i), 0); err != nil {
				t.Error(err)
				return
			}
			if _, err := b.Update(ctx, fmt.Sprintf("/list/%02d", 20+i), []byte("changed"), 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer wg.Wait()
	defer close(stop)

	moved := 0 // Lists during which the writer wrote
	for range 10 {
		kvs, rev, err := b.List(ctx, "/list/")
		if err != nil {
			t.Fatal(err)
		}
		if now, err := b.CurrentRevision(ctx); err != nil {
			t.Fatal(err)
		} else if now > rev {
			moved++
		}
		// What etcd held at that revision, in one response.
		resp, err := raw.Get(ctx, "/skiff/list/", clientv3.WithPrefix(), clientv3.WithRev(rev))
		if err != nil {
			t.Fatal(err)
		}
		if len(kvs) != len(resp.Kvs) || len(kvs) <= 2 {
			t.Fatalf("List at %d: %d keys in pages of 2, etcd held %d", rev, len(kvs), len(resp.Kvs))
		}
		for i, kv := range kvs {
			want := resp.Kvs[i]
			if "/skiff"+kv.Key != string(want.Key) || string(kv.Value) != string(want.Value) || kv.ModRevision != want.ModRevision || kv.CreateRevision != want.CreateRevision {
				t.Fatalf("List at %d: entry %d is %q=%q at %d, etcd held %q=%q at %d", rev, i, kv.Key, kv.Value, kv.ModRevision, want.Key, want.Value, want.ModRevision)
			}
		}
	}
	if moved == 0 {
		t.Fatal("no write happened while a List read its pages: nothing was tested")
	}
}
