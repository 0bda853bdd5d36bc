package etcd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
)

// TestPrefixIsolation shares one etcd between two clusters whose prefixes begin
// alike, and a stranger writing next to them: none sees another's keys or events.
func TestPrefixIsolation(t *testing.T) {
	ctx := t.Context()
	s := etcdtest.Start(t, t.TempDir(), false)
	raw := newClient(t, s)
	one := newBackend(t, s, "/skiff")
	two := newBackend(t, s, "/skiff2/") // the trailing "/" is ignored
	start, err := one.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]<-chan storage.Event{}
	for name, b := range map[string]storage.Backend{"one": one, "two": two} {
		for _, prefix := range []string{"", "/"} {
			ch, err := b.Watch(ctx, prefix, start)
			if err != nil {
				t.Fatal(err)
			}
			live[fmt.Sprintf("%s %q", name, prefix)] = ch
		}
	}

	var oneRevs, twoRevs []int64
	write := func(revs *[]int64, rev int64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		*revs = append(*revs, rev)
	}
	// The same key in both: neither sees the other's.
	r, err := one.Create(ctx, "/pods/a", []byte("one's"))
	write(&oneRevs, r, err)
	r, err = two.Create(ctx, "/pods/a", []byte("two's"))
	write(&twoRevs, r, err)
	r, err = one.Update(ctx, "/pods/a", []byte("one's again"), oneRevs[0])
	write(&oneRevs, r, err)
	r, err = two.Delete(ctx, "/pods/a", twoRevs[0])
	write(&twoRevs, r, err)
	// Keys a Skiff prefix might catch by bytes, not by path.
	for _, k := range []string{"/skiff", "/skiffabc/pods/a", "/skif/pods/a", "/skiff2"} {
		if _, err := raw.Put(ctx, k, "stranger's"); err != nil {
			t.Fatal(err)
		}
	}
	r, err = one.Create(ctx, "/pods/b", []byte("one's"))
	write(&oneRevs, r, err)

	if kv, err := one.Get(ctx, "/pods/a"); err != nil || string(kv.Value) != "one's again" {
		t.Errorf("one: Get(/pods/a) = %q, %v; want one's own value", kv.Value, err)
	}
	if _, err := two.Get(ctx, "/pods/a"); err == nil {
		t.Error("two: Get(/pods/a) found a key that two deleted and one still has")
	}
	for _, prefix := range []string{"", "/", "/pods/"} {
		if kvs, _, err := one.List(ctx, prefix); err != nil || keysOf(kvs) != "/pods/a /pods/b" {
			t.Errorf("one: List(%q) = %q, %v; want /pods/a /pods/b", prefix, keysOf(kvs), err)
		}
		if kvs, _, err := two.List(ctx, prefix); err != nil || len(kvs) != 0 {
			t.Errorf("two: List(%q) = %q, %v; want nothing", prefix, keysOf(kvs), err)
		}
	}

	// Each watch sees its own writes, live and replayed, and nothing else. The
	// revisions are the etcd's: a prefix's are not consecutive.
	want := map[string][]int64{"one": oneRevs, "two": twoRevs}
	for name, b := range map[string]storage.Backend{"one": one, "two": two} {
		replay, err := b.Watch(ctx, "", start)
		if err != nil {
			t.Fatal(err)
		}
		chans := map[string]<-chan storage.Event{"replay": replay, "live": live[name+` ""`], `live "/"`: live[name+` "/"`]}
		for what, ch := range chans {
			var got []int64
			for range want[name] {
				ev, ok := recvEvent(t, ch)
				if !ok {
					t.Fatalf("%s: %s watch closed", name, what)
				}
				if ev.KV.Key != "/pods/a" && ev.KV.Key != "/pods/b" || strings.Contains(string(ev.KV.Value), "stranger") {
					t.Errorf("%s: %s watch saw %v %q = %q", name, what, ev.Type, ev.KV.Key, ev.KV.Value)
				}
				got = append(got, ev.Revision())
			}
			if fmt.Sprint(got) != fmt.Sprint(want[name]) {
				t.Errorf("%s: %s watch saw revisions %v, want %v", name, what, got, want[name])
			}
		}
	}
	// Nothing more is queued for two: its next event is its next write.
	r, err = two.Create(ctx, "/pods/c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev, _ := recvEvent(t, live[`two ""`]); ev.Revision() != r {
		t.Errorf("two: after its own writes, the watch saw %v %q at %d, want its Create at %d", ev.Type, ev.KV.Key, ev.Revision(), r)
	}

	// The keys are stored at prefix+key, for tools that read etcd directly.
	resp, err := raw.Get(ctx, "/skiff/pods/a")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "one's again" {
		t.Errorf("etcd at /skiff/pods/a: %v, %v; want one's value", resp.Kvs, err)
	}
}

func keysOf(kvs []storage.KeyValue) string {
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = kv.Key
	}
	return strings.Join(keys, " ")
}
