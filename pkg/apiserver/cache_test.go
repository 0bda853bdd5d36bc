package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/memory"
)

// TestHistoryBounds: the watch history keeps the newest events within both its
// count and its bytes, and says from which revision on it is complete.
func TestHistoryBounds(t *testing.T) {
	// Every event counts entryOverhead bytes besides its encodings.
	c := &cache{history: make([]*event, 4), histMaxBytes: 100 + 4*entryOverhead, rev: 10}
	if got := c.oldestRevLocked(); got != 10 {
		t.Fatalf("empty history: oldest %d, want the load revision 10", got)
	}
	add := func(rev int64, size int) {
		c.record(&event{rev: rev, cur: &entry{raw: bytes.Repeat([]byte("x"), size)}})
		c.rev = rev
	}
	add(11, 10)
	add(12, 10)
	if got := c.oldestRevLocked(); got != 10 || c.histLen != 2 {
		t.Fatalf("oldest %d with %d events, want 10 with 2", got, c.histLen)
	}
	add(13, 10)
	add(14, 10)
	add(15, 10) // count bound: 11 goes
	if got := c.oldestRevLocked(); got != 11 || c.histLen != 4 {
		t.Fatalf("oldest %d with %d events, want 11 with 4", got, c.histLen)
	}
	add(16, 75) // 12 goes for the count, 13 for the bytes (10+10+75 fits, 10+10+10+75 does not)
	if got := c.oldestRevLocked(); got != 13 || c.histLen != 3 || c.histBytes != 95+3*entryOverhead {
		t.Fatalf("oldest %d with %d events of %d bytes, want 13 with 3 of 95", got, c.histLen, c.histBytes)
	}
	add(17, 100+4*entryOverhead) // bigger than the bound: kept alone
	if got := c.oldestRevLocked(); got != 16 || c.histLen != 1 {
		t.Fatalf("oldest %d with %d events, want 16 with 1", got, c.histLen)
	}
	for i, e := range c.history {
		if e != nil && e.rev != 17 {
			t.Errorf("slot %d still holds dropped revision %d", i, e.rev)
		}
	}
}

// TestWriteAnsweredWhileStopping: a write committed while the server stops is
// answered from the object written at once, not after waiting in vain for the
// stopped cache to apply it (which held the server's shutdown 10 s, and made
// its loops' last events fail with "cache did not reach revision").
func TestWriteAnsweredWhileStopping(t *testing.T) {
	res := configMaps()
	s := New(Config{Storage: memory.New(), Registry: NewRegistry(res)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	raw, err := s.create(context.Background(), res, "default", &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "last"}, Data: map[string]string{"k": "v"}}, false)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the create was answered after %v", took)
	}
	if err != nil {
		t.Fatalf("create while stopping: %v", err)
	}
	got := &corev1.ConfigMap{}
	if err := json.Unmarshal(raw, got); err != nil {
		t.Fatal(err)
	}
	kv, err := s.cfg.Storage.Get(context.Background(), res.key("default", "last"))
	if err != nil {
		t.Fatalf("the write did not stand: %v", err)
	}
	if got.Name != "last" || got.Data["k"] != "v" || got.ResourceVersion != strconv.FormatInt(kv.ModRevision, 10) {
		t.Errorf("answered %s at %s with %v, want last at %d", got.Name, got.ResourceVersion, got.Data, kv.ModRevision)
	}
}

// TestReplayEndsAtAnotherTenantsRevision: the history replay after a start
// ends even when the latest revision is no write under /registry/ (a key of
// another tenant of a shared etcd, or Skiff's own bootstrap data), instead of
// waiting for an event that never comes, which held every watch from an old
// revision for 10 s.
func TestReplayEndsAtAnotherTenantsRevision(t *testing.T) {
	res := configMaps()
	store := memory.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cm, _ := json.Marshal(&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}})
	if _, err := store.Create(ctx, res.key("default", "a"), cm); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, "/bootstrap/other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := replayedHistory(ctx, t, New(Config{Storage: store, Registry: NewRegistry(res)})); n != 1 {
		t.Errorf("the history holds %d events, want the ConfigMap's create", n)
	}
}

// stalling is a datastore that can say how far a watch has got (a
// ProgressRequester, as etcd), whose watches stall a while after their first
// event, as a loaded datastore may.
type stalling struct {
	storage.Backend
	stall time.Duration
}

func (s stalling) Watch(ctx context.Context, prefix string, after int64) (<-chan storage.Event, error) {
	in, err := s.Backend.Watch(ctx, prefix, after)
	if err != nil {
		return nil, err
	}
	out := make(chan storage.Event)
	go func() {
		defer close(out)
		first := true
		for ev := range in {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
			if first {
				first = false
				time.Sleep(s.stall)
			}
		}
	}()
	return out, nil
}

// RequestProgress is answered by the events still to come.
func (stalling) RequestProgress(context.Context) error { return nil }

// TestReplayWaitsOutAStall: a datastore that stalls in the middle of the
// history replay does not leave a gap in the history, which would let a
// watch resumed from inside it miss events instead of getting a 410.
func TestReplayWaitsOutAStall(t *testing.T) {
	res := configMaps()
	store := memory.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, name := range []string{"a", "b", "c"} {
		cm, _ := json.Marshal(&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
		if _, err := store.Create(ctx, res.key("default", name), cm); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Config{Storage: stalling{store, 3 * replayIdle}, Registry: NewRegistry(res), SharedStorage: true})
	if n := replayedHistory(ctx, t, s); n != 3 {
		t.Errorf("the history holds %d events after a stall, want the 3 creates", n)
	}
}

// replayedHistory runs s until ctx ends and returns how many events its
// history holds once the replay of storage's history has ended.
func replayedHistory(ctx context.Context, t *testing.T, s *Server) int {
	t.Helper()
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	select {
	case <-s.cache.replayed:
	case <-time.After(10 * time.Second):
		t.Fatal("the history replay did not end")
	}
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	return s.cache.histLen
}
