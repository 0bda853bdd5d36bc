package etcd_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/etcd"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
	"github.com/skiffhq/skiff/pkg/storage/storagetest"
)

// TestContract runs the contract against a new etcd per subtest: the contract counts
// revisions and compacts history, and both are global to an etcd.
func TestContract(t *testing.T) {
	storagetest.RunContract(t, func(t *testing.T) storage.Backend {
		return newBackend(t, etcdtest.Start(t, t.TempDir(), false), "/"+t.Name())
	})
}

// newClient returns a client of s that the test closes.
func newClient(t testing.TB, s *etcdtest.Server) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newBackend returns a backend on s under prefix, with its own client; the test
// closes both.
func newBackend(t testing.TB, s *etcdtest.Server, prefix string, opts ...etcd.Option) *etcd.Backend {
	t.Helper()
	b, err := etcd.New(newClient(t, s), prefix, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestOpen dials etcd from a Config, keeps the keys under the default prefix, and
// closes the client it dialed.
func TestOpen(t *testing.T) {
	ctx := t.Context()
	s := etcdtest.Start(t, t.TempDir(), false)
	b, err := etcd.Open(ctx, etcd.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := b.Create(ctx, "/registry/pods/a", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := newClient(t, s).Get(ctx, etcd.DefaultPrefix+"/registry/pods/a")
	if err != nil || len(raw.Kvs) != 1 || string(raw.Kvs[0].Value) != "v" || raw.Kvs[0].ModRevision != rev {
		t.Fatalf("etcd holds %v (%v) at %q, want the value written at revision %d", raw.Kvs, err, etcd.DefaultPrefix+"/registry/pods/a", rev)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "/registry/pods/a"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}

	// A client given to New is the caller's: Close leaves it working.
	c := newClient(t, s)
	b, err = etcd.New(c, "/mine")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := c.Get(ctx, "/mine/x"); err != nil {
		t.Errorf("the caller's client after Backend.Close: %v", err)
	}

	// Nobody listens there: Open gives up after DialTimeout.
	ports, err := etcdtest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = etcd.Open(ctx, etcd.Config{Endpoints: []string{fmt.Sprintf("http://127.0.0.1:%d", ports[0])}, DialTimeout: 200 * time.Millisecond})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Open of a closed port: %v after %v, want an error after about 200ms", err, time.Since(start))
	}
}

// TestKeysOutsideSkiff: a key must start with "/", and nothing else is reachable.
func TestKeysOutsideSkiff(t *testing.T) {
	ctx := t.Context()
	b := newBackend(t, etcdtest.Start(t, t.TempDir(), false), "/skiff")
	for _, key := range []string{"", "pods/a", "2/pods/a"} {
		if _, err := b.Create(ctx, key, nil); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("Create(%q): %v, want an error naming the key", key, err)
		}
		if _, err := b.Get(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
		}
	}
	if _, _, err := b.List(ctx, "pods"); err == nil {
		t.Error(`List("pods") succeeded, want an error: keys start with "/"`)
	}
	if _, err := b.Watch(ctx, "pods", 0); err == nil {
		t.Error(`Watch("pods") succeeded, want an error: keys start with "/"`)
	}
}

// recvEvent returns the next event of ch, failing if none comes within 10s.
func recvEvent(t testing.TB, ch <-chan storage.Event) (storage.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event and no close in 10s")
	}
	return storage.Event{}, false
}
